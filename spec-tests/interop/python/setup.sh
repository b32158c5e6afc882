#!/usr/bin/env bash
# Creates a virtualenv for the grpcio interop peer and installs requirements.txt.
#   bash spec-tests/interop/python/setup.sh [VENV_DIR]
# VENV_DIR defaults to <repo root>/target/interop-venv. A second run with the
# same requirements.txt (and Python) only checks a stamp file and returns.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
venv="${1:-$root/target/interop-venv}"
req="$here/requirements.txt"
python="${PYTHON:-python3}"

die() { echo "setup.sh: error: $*" >&2; exit 1; }

command -v "$python" >/dev/null 2>&1 || die "'$python' not found (set PYTHON to a Python 3 interpreter)"
[ -f "$req" ] || die "missing $req"

# The stamp holds a hash of requirements.txt and of the interpreter version, so
# changing either reinstalls.
want="$( { cat "$req"; "$python" -c 'import sys; print(sys.version)'; } | sha256sum | cut -d' ' -f1)"
stamp="$venv/.interop-requirements.sha256"
if [ -x "$venv/bin/python" ] && [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    exit 0
fi

rm -f "$stamp"
if [ ! -x "$venv/bin/python" ]; then
    mkdir -p "$(dirname "$venv")"
    "$python" -m venv "$venv" || die "could not create a virtualenv at $venv (is the venv module installed? e.g. apt-get install python3-venv)"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r "$req" \
    || die "pip install -r $req into $venv failed"
"$venv/bin/python" -c 'import grpc, grpc_tools.protoc, google.protobuf' \
    || die "the installed packages do not import in $venv"
echo "$want" > "$stamp"
echo "setup.sh: interop virtualenv ready at $venv"
