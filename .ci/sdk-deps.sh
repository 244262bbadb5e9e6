#!/usr/bin/env bash
# What the SDK tests (crates/latchkey/tests/sdk.rs, which runs `npm test` in sdk/) need:
# Node.js and npm, and sdk/node_modules exactly as sdk/package-lock.json pins them
# (TypeScript and openapi-typescript, vitest, Vite and playwright-core for the example app's
# browser test; @latchkey/js itself has no runtime dependencies), and Debian's chromium.
# Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# The example app's browser test (sdk/example/test) drives Debian's chromium; its screenshots
# need a font.
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "sdk-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
# Exactly the locked versions; playwright-core downloads no browser of its own.
(cd sdk && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "sdk-deps: node $(node --version), $(cd sdk && node -p "require('typescript/package.json').version" 2>/dev/null | sed 's/^/typescript /')"
