#!/usr/bin/env bash
# Generates the Python client from the committed OpenAPI document into clients/python/build/
# (not committed) and installs it into the active Python environment.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
doc="${1:-$here/../../openapi/openapi.json}"
rm -rf "$here/build"
openapi-python-client generate --path "$doc" --config "$here/config.yaml" \
    --output-path "$here/build"
python3 -m pip install --quiet --no-deps --force-reinstall "$here/build"
