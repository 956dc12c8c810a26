#!/usr/bin/env bash
# Install the Node tools the tests use (the real Mermaid parser, see
# tools/js/mermaid-parse.mjs) into tools/js/node_modules.
#
# Idempotent: nothing is done when node_modules was installed from the
# same package.json and package-lock.json. Without node or npm this says
# so and exits 0: the tests that need them are skipped, with the reason.
# Usage: tools/install-js-deps.sh [--force]
set -euo pipefail
cd "$(dirname "$0")/js"

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
    echo "install-js-deps: node or npm not found; skipping (the Mermaid" \
         "parser tests will be skipped)"
    exit 0
fi
major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$major" -lt 18 ]; then
    echo "install-js-deps: node $(node --version) is older than 18;" \
         "skipping (the Mermaid parser tests will be skipped)"
    exit 0
fi

stamp=node_modules/.global-reqid-deps.sha256
want=$(cat package.json package-lock.json 2>/dev/null | sha256sum | cut -d' ' -f1)
if [ "${1:-}" != "--force" ] && [ -f "$stamp" ] \
        && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/mermaid ] \
        && [ -d node_modules/jsdom ]; then
    echo "install-js-deps: tools/js/node_modules is up to date"
    exit 0
fi

if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
else
    npm install --no-audit --no-fund --loglevel=error
    want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
fi
echo "$want" > "$stamp"
echo "install-js-deps: installed into tools/js/node_modules"
