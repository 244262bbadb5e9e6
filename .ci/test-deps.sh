#!/usr/bin/env bash
# Installs what the delivery tests need when it is missing, and nothing when it is there:
# OpenSSL headers for native TLS (reqwest, lettre), the moto AWS emulator (SNS) and the
# aiosmtpd SMTP server; the Prometheus client library, whose parsers read `GET /metrics` in the
# tests; the standardwebhooks reference verifier (the webhook tests' receiver); schemathesis for
# the API fuzzer (scripts/fuzz-api.sh). Quiet on success;
# safe to run on every CI run.
set -euo pipefail

apt_install() {
  # One `apt-get update` per run, only when something is actually missing.
  if [ -z "${_apt_updated:-}" ]; then
    apt-get update -qq >/dev/null
    _apt_updated=1
  fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

if ! pkg-config --exists openssl 2>/dev/null; then
  echo "test-deps: installing libssl-dev and pkg-config"
  apt_install libssl-dev pkg-config
fi

if ! command -v python3 >/dev/null 2>&1 || ! python3 -m pip --version >/dev/null 2>&1; then
  echo "test-deps: installing python3 and pip"
  apt_install python3 python3-pip
fi

if ! python3 -c 'import moto.server, aiosmtpd, prometheus_client, standardwebhooks' >/dev/null 2>&1; then
  echo "test-deps: installing moto[server], aiosmtpd, prometheus-client and standardwebhooks"
  pip_install() {
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check "$@" \
      'moto[server]' aiosmtpd prometheus-client standardwebhooks
  }
  # A Debian-managed Python refuses pip installs (PEP 668); then install beside it anyway,
  # since these are test tools only.
  pip_install 2>/dev/null || pip_install --break-system-packages
  python3 -c 'import moto.server, aiosmtpd, prometheus_client, standardwebhooks'
fi

# Pinned: the fuzzer's baseline (scripts/fuzz/baseline.json) records findings by this version's
# check names and failure classes. 4.32.5 runs on Python 3.9+ (CI has 3.11).
SCHEMATHESIS_VERSION=4.32.5
if [ "$(python3 -c 'import schemathesis; print(schemathesis.__version__)' 2>/dev/null)" != "$SCHEMATHESIS_VERSION" ]; then
  echo "test-deps: installing schemathesis $SCHEMATHESIS_VERSION"
  st_install() {
    PIP_ROOT_USER_ACTION=ignore python3 -m pip install -q --disable-pip-version-check "$@" \
      "schemathesis==$SCHEMATHESIS_VERSION"
  }
  st_install 2>/dev/null || st_install --break-system-packages
  python3 -m schemathesis.cli --version
fi
