#!/usr/bin/env bash
# What the SDK tests (crates/latchkey/tests/sdk.rs, which runs `npm test` in sdk/) need:
# Node.js and npm, and sdk/node_modules exactly as sdk/package-lock.json pins them
# (TypeScript and openapi-typescript; @latchkey/js itself has no runtime dependencies).
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "sdk-deps: installing nodejs and npm"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi
(cd sdk && npm ci --no-audit --no-fund --loglevel=error)
echo "sdk-deps: node $(node --version), $(cd sdk && node -p "require('typescript/package.json').version" 2>/dev/null | sed 's/^/typescript /')"
