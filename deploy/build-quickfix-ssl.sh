#!/usr/bin/env bash
# Installs QuickFIX's Python package WITH its SSL connectors (SSLSocketAcceptor/Initiator) and its
# PostgreSQL message store (PostgreSQLStoreFactory) into a venv.
#   deploy/build-quickfix-ssl.sh VENV_PYTHON [WHEEL_DIR]
# The PyPI source package is compiled without HAVE_SSL and HAVE_POSTGRESQL: those classes are stubs
# that raise "HAVE_SSL not enabled" / "HAVE_POSTGRESQL not enabled". We rebuild it from the same sdist
# with both macros, linked to OpenSSL and libpq,
# under the local version "<version>+$LOCAL_TAG" so that pip can never satisfy it from a cached plain
# wheel, and we refuse to finish unless the installed module really creates an SSL acceptor and a
# PostgreSQL store factory.
set -euo pipefail
PY="$1"
WHEELS="$(mkdir -p "${2:-.wheels}" && cd "${2:-.wheels}" && pwd)"
QF_VERSION="${QUICKFIX_VERSION:-1.16.0}"
HERE="$(cd "$(dirname "$0")" && pwd)"
# The local version of our build: SSL and PostgreSQL on, the duplicate-logon event, the remote-address
# check before the Logon on polled connections, the event-loop socket accessors and the PostgreSQLStore
# fixes (deploy/patch-quickfix.py). Bump it whenever the build changes, so every venv and image rebuilds
# instead of keeping an older one.
LOCAL_TAG="ssl.plx4"

# Exit status 0 only if quickfix is built with SSL: the stub constructor throws "HAVE_SSL not enabled".
read -r -d '' CHECK <<'PYEOF' || true
import os
import sys
from importlib.metadata import PackageNotFoundError, version
try:
    import quickfix as fix
except ImportError:
    sys.exit(2)
try:
    if version("quickfix") != os.environ["QF_EXPECTED"]:
        print(f"quickfix {version('quickfix')} is not our build {os.environ['QF_EXPECTED']}", file=sys.stderr)
        sys.exit(1)
except PackageNotFoundError:
    sys.exit(2)
class App(fix.Application):
    def onCreate(self, s): pass
    def onLogon(self, s): pass
    def onLogout(self, s): pass
    def toAdmin(self, m, s): pass
    def fromAdmin(self, m, s): pass
    def toApp(self, m, s): pass
    def fromApp(self, m, s): pass
# The stub throws "HAVE_SSL not enabled" after its base class accepted the settings: give it one
# session (nothing binds before start()).
settings = fix.SessionSettings()
settings.setFromString("[DEFAULT]\nConnectionType=acceptor\nSocketAcceptPort=1\nStartTime=00:00:00\n"
                       "EndTime=00:00:00\nUseDataDictionary=N\n[SESSION]\nBeginString=FIX.4.4\n"
                       "SenderCompID=SSL-PROBE\nTargetCompID=SSL-PROBE-PEER\n")
try:
    fix.SSLSocketAcceptor(App(), fix.MemoryStoreFactory(), settings)
except fix.ConfigError as exc:
    print(f"quickfix without SSL: {exc}", file=sys.stderr)
    sys.exit(1)
# The PostgreSQL stub throws "HAVE_POSTGRESQL not enabled" in its constructor; the real factory
# connects only when a session's store is created, so this needs no server.
try:
    fix.PostgreSQLStoreFactory(settings)
except fix.ConfigError as exc:
    print(f"quickfix without PostgreSQL: {exc}", file=sys.stderr)
    sys.exit(1)
# The event loop's socket accessors (gateway/fix/loop_driver.py) must be in the extension.
import ctypes
import _quickfix
try:
    ctypes.PyDLL(_quickfix.__file__).plx_connector_sockets
except AttributeError:
    print("quickfix without the event-loop socket accessors", file=sys.stderr)
    sys.exit(1)
sys.exit(0)
PYEOF

export QF_EXPECTED="$QF_VERSION+$LOCAL_TAG"
if "$PY" -c "$CHECK"; then
    exit 0   # already our build
fi

if [ ! -f /usr/include/openssl/ssl.h ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq libssl-dev >/dev/null
    else
        echo "OpenSSL headers missing: install libssl-dev (Debian/Ubuntu) or openssl-devel" >&2
        exit 1
    fi
fi

# libpq's headers: `pg_config` comes with libpq-dev (Debian 12: /usr/include/postgresql).
pg_include="$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)"
if [ ! -f "$pg_include/libpq-fe.h" ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq libpq-dev >/dev/null
        pg_include="$(pg_config --includedir 2>/dev/null || echo /usr/include/postgresql)"
    else
        echo "libpq headers missing: install libpq-dev (Debian/Ubuntu) or libpq-devel" >&2
        exit 1
    fi
fi

wheel="$(ls "$WHEELS"/quickfix-"$QF_VERSION+$LOCAL_TAG"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "building quickfix $QF_VERSION with SSL and PostgreSQL (once, ~5-20 minutes)..." >&2
    "$PY" -m pip download --quiet --no-binary :all: --no-deps --no-cache-dir -d "$work" "quickfix==$QF_VERSION"
    tar -xzf "$work"/quickfix-"$QF_VERSION".tar.gz -C "$work"
    src="$work/quickfix-$QF_VERSION"
    # A distinct local version: a plain 1.16.0 wheel in pip's cache can never stand in for this one.
    sed -i "s/^tag_build *=.*/tag_build = +$LOCAL_TAG/" "$src/setup.cfg"
    # Our additions (deploy/patch-quickfix.py): the duplicate-logon event, and the socket
    # accessors the event loop needs to drive the polled connectors (deploy/quickfix-loop-sockets.cpp).
    "$PY" "$HERE/patch-quickfix.py" "$src" "$HERE/quickfix-loop-sockets.cpp"
    # HAVE_SSL and HAVE_POSTGRESQL select the real SSL connectors and PostgreSQL store over the
    # stubs; the extension must then link OpenSSL and libpq itself (LDFLAGS land before the objects
    # and are dropped by --as-needed linkers).
    grep -q "extra_compile_args=\[" "$src/setup.py"
    sed -i "s|extra_compile_args=\[|define_macros=[('HAVE_SSL', '1'), ('HAVE_POSTGRESQL', '1')], \
include_dirs=['$pg_include'], libraries=['ssl', 'crypto', 'pq'], extra_compile_args=[|" "$src/setup.py"
    "$PY" -m pip wheel --quiet --no-deps --no-build-isolation --no-cache-dir -w "$WHEELS" "$src"
    wheel="$(ls "$WHEELS"/quickfix-"$QF_VERSION+$LOCAL_TAG"-*.whl | head -n1)"
fi
"$PY" -m pip install --quiet --no-deps --force-reinstall "$wheel"
if ! "$PY" -c "$CHECK"; then
    echo "quickfix installed from $wheel lacks SSL, PostgreSQL or the loop accessors" >&2
    exit 1
fi
echo "quickfix $QF_VERSION with SSL and PostgreSQL installed ($wheel)" >&2
