#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv on first use (quickfix compiles from
# source there, ~5 minutes, once: pip caches the wheel), then runs what you asked for.
#   ./dev.sh run [args]    the gateway on the embedded simulator (plxtra-fix run)
#   ./dev.sh test [args]   ruff + mypy + the whole test suite, import contracts included (what CI runs)
#   ./dev.sh <cmd> [args]  any plxtra-fix sub-command (sim, demo, decode, replay, certify, check-config)
set -euo pipefail
# The caller's working directory is kept, so relative paths in the arguments (decode LOG,
# replay LOG, certify SPECS, run --config FILE) mean what they meant where the command was typed.
REPO="$(cd "$(dirname "$0")" && pwd)"
PY="${PYTHON:-python3}"
VENV="$REPO/.venv"
# A change of the dependencies or of our quickfix build (a new LOCAL_TAG, a new patch) reinstalls.
STAMP="$VENV/.installed-$(cat "$REPO/pyproject.toml" "$REPO"/deploy/build-quickfix-ssl.sh "$REPO"/deploy/patch-quickfix.py \
    "$REPO"/deploy/quickfix-loop-sockets.cpp | sha1sum | cut -c1-12)"

bootstrap() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    if [ ! -f "$STAMP" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
        echo "installing plxtra-fix-gateway and its dependencies (first time: quickfix compiles, ~5 min)..." >&2
        # quickfix WITH its SSL connectors (FIX over TLS) and its PostgreSQL message store, as a
        # distinct local version so that a plain wheel cached by pip can never replace it; the script
        # checks the result and installs libssl-dev and libpq-dev when missing (apt, as root).
        "$REPO/deploy/build-quickfix-ssl.sh" "$VENV/bin/python" "$REPO/.wheels"
        "$VENV/bin/python" -m pip install --quiet -e "$REPO[dev]"
        rm -f "$VENV"/.installed-*
        touch "$STAMP"
    fi
}

# Programs the tests drive that pip cannot install: Debian's headless Chromium and its driver (the
# certification console and the HTML reports are checked in a real browser).
system_test_tools() {
    local missing=()
    command -v chromium >/dev/null || missing+=(chromium)
    command -v chromedriver >/dev/null || missing+=(chromium-driver)
    # tests/ops/test_ops_compose_config.py validates docker-compose.yml with `docker-compose config`
    # (no Docker daemon needed for that).
    command -v docker-compose >/dev/null || missing+=(docker-compose)
    # The PostgreSQL tests (issue 14) start a throw-away server from Debian's binaries
    # (tests/pg_server.py); the package's own cluster is not used.
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    [ ${#missing[@]} -eq 0 ] && return 0
    local sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    echo "installing ${missing[*]} from Debian's packages (the browser, compose and PostgreSQL tests need them)..." >&2
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

cmd="${1:-run}"
[ $# -gt 0 ] && shift
bootstrap
case "$cmd" in
    test)
        system_test_tools
        "$VENV/bin/ruff" check "$REPO"
        # Types of gateway/ ([tool.mypy] in pyproject.toml). The import contracts of ARCHITECTURE
        # ([tool.importlinter]) run inside pytest: tests/test_import_contracts.py.
        (cd "$REPO" && "$VENV/bin/python" -m mypy)
        # pytest's testpaths apply when it runs from the repository; with arguments, they are
        # paths as the caller typed them.
        if [ $# -eq 0 ]; then cd "$REPO"; fi
        # pytest exits 5 when it collects nothing: that is a failure here, as is any other non-zero code.
        exec "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        exec "$VENV/bin/plxtra-fix" "$cmd" "$@"
        ;;
esac
