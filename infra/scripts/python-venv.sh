#!/usr/bin/env bash
# Makes DIR/.venv, outside git, with exactly DIR/requirements.txt, and does nothing when it is already
# there for these requirements: the Python environments of the Spark parity suites (infra/spark) and of
# the API fuzz stage (infra/schemathesis), which .ci/run makes on a fresh machine.
#
#   bash infra/scripts/python-venv.sh DIR LABEL
set -euo pipefail
dir="$1"
label="$2"
cd "$dir"
stamp=".venv/requirements.sha256"
wanted="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ -x .venv/bin/python && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "$label environment ready: $dir/.venv"
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is missing: install Python 3.11" >&2; exit 1; }
rm -rf .venv
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$wanted" > "$stamp"
echo "$label environment made: $dir/.venv"
