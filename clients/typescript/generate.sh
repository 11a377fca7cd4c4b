#!/usr/bin/env bash
# Installs the pinned tools and generates the TypeScript types from the committed OpenAPI
# document into clients/typescript/build/ (not committed), then type-checks and compiles
# meeting.ts with `tsc --strict`.
set -euo pipefail
cd "$(dirname "$0")"
npm ci --no-audit --no-fund --loglevel=error
rm -rf build
npx openapi-typescript "${1:-../../openapi/openapi.json}" -o build/schema.d.ts
npx tsc -p tsconfig.json
