#!/usr/bin/env bash
# What the browser test (crates/latchkey/tests/browser.rs) needs: Debian's chromium (no
# browser download: playwright-core drives /usr/bin/chromium), Node.js, and playwright-core
# pinned by tests/browser/package-lock.json. Safe to run again: installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
# Text in the screenshots needs a font; Debian's chromium does not pull one in everywhere.
dpkg -s fonts-dejavu-core >/dev/null 2>&1 || missing+=(fonts-dejavu-core)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "browser-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Exactly the locked versions; playwright-core downloads no browser of its own.
(cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error)
echo "browser-deps: $(chromium --version 2>/dev/null | tail -n 1), node $(node --version)"
