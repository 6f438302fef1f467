#!/usr/bin/env bash
# Installs QuickFIX's Python package WITH its SSL connectors (SSLSocketAcceptor/Initiator) into a venv.
#   deploy/build-quickfix-ssl.sh VENV_PYTHON [WHEEL_DIR]
# The PyPI source package is compiled without HAVE_SSL: its SSL classes are stubs that raise
# "HAVE_SSL not enabled". We rebuild it from the same sdist with -DHAVE_SSL=1, linked to OpenSSL,
# under the local version "<version>+$LOCAL_TAG" so that pip can never satisfy it from a cached plain
# wheel, and we refuse to finish unless the installed module really creates an SSL acceptor.
set -euo pipefail
PY="$1"
WHEELS="$(mkdir -p "${2:-.wheels}" && cd "${2:-.wheels}" && pwd)"
QF_VERSION="${QUICKFIX_VERSION:-1.16.0}"
HERE="$(cd "$(dirname "$0")" && pwd)"
# The local version of our build: SSL on, the duplicate-logon event, the remote-address check before
# the Logon on polled connections and the event-loop socket accessors (deploy/patch-quickfix.py). Bump it whenever the build changes, so every venv and image
# rebuilds instead of keeping an older one.
LOCAL_TAG="ssl.plx3"

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

wheel="$(ls "$WHEELS"/quickfix-"$QF_VERSION+$LOCAL_TAG"-*.whl 2>/dev/null | head -n1 || true)"
if [ -z "$wheel" ]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    echo "building quickfix $QF_VERSION with SSL (once, ~5-10 minutes)..." >&2
    "$PY" -m pip download --quiet --no-binary :all: --no-deps --no-cache-dir -d "$work" "quickfix==$QF_VERSION"
    tar -xzf "$work"/quickfix-"$QF_VERSION".tar.gz -C "$work"
    src="$work/quickfix-$QF_VERSION"
    # A distinct local version: a plain 1.16.0 wheel in pip's cache can never stand in for this one.
    sed -i "s/^tag_build *=.*/tag_build = +$LOCAL_TAG/" "$src/setup.cfg"
    # Our additions (deploy/patch-quickfix.py): the duplicate-logon event, and the socket
    # accessors the event loop needs to drive the polled connectors (deploy/quickfix-loop-sockets.cpp).
    "$PY" "$HERE/patch-quickfix.py" "$src" "$HERE/quickfix-loop-sockets.cpp"
    # HAVE_SSL selects the real SSL connectors over the stubs; the extension must then link OpenSSL
    # itself (LDFLAGS land before the objects and are dropped by --as-needed linkers).
    grep -q "extra_compile_args=\[" "$src/setup.py"
    sed -i "s/extra_compile_args=\[/define_macros=[('HAVE_SSL', '1')], libraries=['ssl', 'crypto'], extra_compile_args=[/" \
        "$src/setup.py"
    "$PY" -m pip wheel --quiet --no-deps --no-build-isolation --no-cache-dir -w "$WHEELS" "$src"
    wheel="$(ls "$WHEELS"/quickfix-"$QF_VERSION+$LOCAL_TAG"-*.whl | head -n1)"
fi
"$PY" -m pip install --quiet --no-deps --force-reinstall "$wheel"
if ! "$PY" -c "$CHECK"; then
    echo "quickfix installed from $wheel has no SSL support" >&2
    exit 1
fi
echo "quickfix $QF_VERSION with SSL installed ($wheel)" >&2
