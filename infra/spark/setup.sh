#!/usr/bin/env bash
# Makes the PySpark virtual environment the Spark parity tests and benchmark use: infra/spark/.venv,
# outside git, with exactly requirements.txt. Does nothing when it is already there for these
# requirements; .ci/run calls it on a fresh machine.
set -euo pipefail
cd "$(dirname "$0")"
stamp=".venv/requirements.sha256"
wanted="$(sha256sum requirements.txt | cut -d' ' -f1)"
if [[ -x .venv/bin/python && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  echo "PySpark environment ready: infra/spark/.venv"
  exit 0
fi
command -v python3 >/dev/null || { echo "python3 is missing: install Python 3.11" >&2; exit 1; }
rm -rf .venv
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
echo "$wanted" > "$stamp"
echo "PySpark environment made: infra/spark/.venv ($(.venv/bin/python -c 'import pyspark; print("pyspark", pyspark.__version__)'))"
