#!/usr/bin/env bash
# Makes the PySpark virtual environment the Spark parity tests and benchmark use: infra/spark/.venv,
# outside git, with exactly requirements.txt (see infra/scripts/python-venv.sh).
exec bash "$(dirname "$0")/../scripts/python-venv.sh" "$(dirname "$0")" PySpark
