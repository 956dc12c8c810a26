#!/usr/bin/env bash
# Set up and run the test suite on a fresh machine with Python 3 and PyPI.
# Usage: tools/run-tests.sh [TOX_ENVS]   (default: pep8,py3,functional,docs,releasenotes)
set -euo pipefail
cd "$(dirname "$0")/.."
envs=${1:-pep8,py3,functional,docs,releasenotes}
venv=${TOX_VENV:-.tox/.tox-runner}
if [ ! -x "$venv/bin/tox" ]; then
    python3 -m venv "$venv"
    "$venv/bin/python" -m pip install --quiet --upgrade pip
    "$venv/bin/python" -m pip install --quiet 'tox>=4'
fi
# What the browser and Mermaid tests need beyond PyPI: Debian's chromium
# and the mermaid npm package (each a fast no-op once installed, and a
# message, not a failure, where they cannot be installed).
tools/install-browser.sh
tools/install-js-deps.sh
exec "$venv/bin/tox" -e "$envs"
