#!/usr/bin/env bash
# What the SDK compatibility tests (crates/latchkey/tests/compat.rs) need: Node.js with the
# packages tests/compat/package-lock.json pins (npm `auth0`, `@auth0/auth0-auth-js`), and
# Python with the auth0-python tests/compat/requirements.txt pins. Safe to run again:
# installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

missing=()
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v python3 >/dev/null 2>&1 || missing+=(python3)
python3 -m pip --version >/dev/null 2>&1 || missing+=(python3-pip)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "compat-deps: installing ${missing[*]}"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Exactly the locked versions.
(cd tests/compat && npm ci --no-audit --no-fund --loglevel=error)

want=$(sed -n 's/^auth0-python==//p' tests/compat/requirements.txt)
have=$(python3 -c "import importlib.metadata as m; print(m.version('auth0-python'))" 2>/dev/null || true)
if [ "$have" != "$want" ]; then
  echo "compat-deps: installing auth0-python $want"
  pip_install() {
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check "$@" -r tests/compat/requirements.txt
  }
  # A Debian-managed Python refuses pip installs (PEP 668); then install beside it anyway,
  # since this is a test tool only.
  pip_install 2>/dev/null || pip_install --break-system-packages
fi
echo "compat-deps: node $(node --version), auth0-python $(python3 -c "import importlib.metadata as m; print(m.version('auth0-python'))")"
