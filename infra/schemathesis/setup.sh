#!/usr/bin/env bash
# Makes the virtual environment of the API fuzz stage (infra/test/api-fuzz.test.ts):
# infra/schemathesis/.venv, outside git, with exactly requirements.txt (see infra/scripts/python-venv.sh).
exec bash "$(dirname "$0")/../scripts/python-venv.sh" "$(dirname "$0")" schemathesis
