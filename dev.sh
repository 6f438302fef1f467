#!/usr/bin/env bash
# One entry point for a fresh machine: creates .venv on first use (quickfix compiles from
# source there, ~5 minutes, once: pip caches the wheel), then runs what you asked for.
#   ./dev.sh run [args]    the gateway on the embedded simulator (plxtra-fix run)
#   ./dev.sh test [args]   ruff + the whole test suite (what CI runs)
#   ./dev.sh <cmd> [args]  any plxtra-fix sub-command (sim, demo, decode, replay, certify, check-config)
set -euo pipefail
cd "$(dirname "$0")"
PY="${PYTHON:-python3}"
VENV=".venv"
STAMP="$VENV/.installed-$(sha1sum pyproject.toml | cut -c1-12)"

bootstrap() {
    if [ ! -x "$VENV/bin/python" ]; then
        "$PY" -m venv "$VENV"
    fi
    if [ ! -f "$STAMP" ]; then
        "$VENV/bin/python" -m pip install --quiet --upgrade pip setuptools wheel
        echo "installing plxtra-fix-gateway and its dependencies (first time: quickfix compiles, ~5 min)..." >&2
        # quickfix WITH its SSL connectors (FIX over TLS), as a distinct local version so that a plain
        # wheel cached by pip can never replace it; the script checks the result and installs
        # libssl-dev when it is missing (apt, as root).
        deploy/build-quickfix-ssl.sh "$VENV/bin/python" .wheels
        "$VENV/bin/python" -m pip install --quiet -e ".[dev]"
        rm -f "$VENV"/.installed-*
        touch "$STAMP"
    fi
}

cmd="${1:-run}"
[ $# -gt 0 ] && shift
bootstrap
case "$cmd" in
    test)
        "$VENV/bin/ruff" check .
        # pytest exits 5 when it collects nothing: that is a failure here, as is any other non-zero code.
        exec "$VENV/bin/python" -m pytest -q "$@"
        ;;
    *)
        exec "$VENV/bin/plxtra-fix" "$cmd" "$@"
        ;;
esac
