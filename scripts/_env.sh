# Shared by scripts/demo and scripts/test: create .venv once and install sirtkit with everything it needs.
set -euo pipefail
SIRTKIT_CALLER_PWD=${SIRTKIT_CALLER_PWD:-$PWD}
cd "$(dirname "${BASH_SOURCE[0]}")/.."
PYTHON=${PYTHON:-python3}
VENV=${SIRTKIT_VENV:-.venv}
stamp="$VENV/.sirtkit-installed"
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "sirtkit: setting up $VENV (first run: about two minutes)" >&2
  "$PYTHON" -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e ".[all,test]"
  touch "$stamp"
fi
export PATH="$PWD/$VENV/bin:$PATH"
