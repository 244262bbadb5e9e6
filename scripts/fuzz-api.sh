#!/usr/bin/env bash
# Schema-driven API fuzzing: schemathesis against the real `latchkey serve` binary and its own
# /openapi.json, on SQLite and (when reachable) PostgreSQL, each a fresh store.
#
#   scripts/fuzz-api.sh                       # both stores (PostgreSQL from LATCHKEY_TEST_DATABASE_URL)
#   scripts/fuzz-api.sh --store sqlite        # one store
#   scripts/fuzz-api.sh --examples 200 --seed random   # a longer, exploratory run
#   scripts/fuzz-api.sh --update-baseline     # record today's accepted findings (review the diff!)
#
# Checks (all must pass; see docs/testing.md):
#   - every built-in schemathesis check (no 5xx, status codes, content types, response schemas,
#     negative data rejected, positive data accepted, auth enforced, unsupported methods, …);
#   - latchkey_json_envelope: every response is JSON, every 4xx/5xx is {"error":{"code",…}};
#   - latchkey_no_secret_echo: no response quotes the secret key;
#   - a response slower than --max-response-time, or none within --request-timeout, fails;
#   - afterwards the server is still up and logged no panic.
# Known mismatches between the document and the server are listed, each with its reason, in
# scripts/fuzz/baseline.json: a finding that is not there fails the run.
#
# The seed is fixed so CI is reproducible; pass --seed random to explore.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

stores="sqlite postgres" examples=40 seed=20261201 update=""
while [ $# -gt 0 ]; do
  case "$1" in
    --store) stores="$2"; shift ;;
    --examples) examples="$2"; shift ;;
    --seed) seed="$2"; shift ;;
    --update-baseline) update=1 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
[ "$seed" = random ] && seed=$RANDOM$RANDOM

# Through the python3 that .ci/test-deps.sh installed it for (its `schemathesis` script may not be on PATH).
python3 -m schemathesis.cli --version >/dev/null 2>&1 \
  || { echo "fuzz: schemathesis is not installed (bash .ci/test-deps.sh)" >&2; exit 1; }
cargo build -q -p latchkey
bin="${CARGO_TARGET_DIR:-target}/debug/latchkey"

work=$(mktemp -d)
server_pid="" pg_db="" pg_admin=""
cleanup() {
  if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; wait "$server_pid" 2>/dev/null || true; fi
  if [ -n "$pg_db" ]; then psql "$pg_admin" -qc "drop database if exists \"$pg_db\" with (force)" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

FUZZ_BOOTSTRAP_KEY="sk_live_fuzz$(python3 -c 'import secrets;print(secrets.token_hex(20))')"
export FUZZ_EMAIL="fuzz@example.com" FUZZ_PASSWORD="correct horse battery fuzz"

# Starts the server on a port the OS picks, reading the address from its log.
start_server() {
  local log=$1 addr=""
  : >"$log"  # exists before the background process opens it, so the first read cannot fail
  LATCHKEY_BOOTSTRAP_SECRET_KEY="$FUZZ_BOOTSTRAP_KEY" LATCHKEY_LOG_FORMAT=text \
    "$bin" serve --listen 127.0.0.1:0 >"$log" 2>&1 &
  server_pid=$!
  for _ in $(seq 300); do
    addr=$(sed -n 's/.*latchkey is listening.*address=\([0-9.:]*\).*/\1/p' "$log" | head -n1 || true)
    [ -n "$addr" ] && break
    kill -0 "$server_pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$addr" ]; then echo "fuzz: the server did not start; its log:" >&2; cat "$log" >&2; return 1; fi
  base="http://$addr"
  for _ in $(seq 100); do curl -sf "$base/readyz" >/dev/null && return 0; sleep 0.1; done
  echo "fuzz: the server never became ready; its log:" >&2; cat "$log" >&2; return 1
}

# The fuzz user (for access tokens and a real user id), the tenant id, a pending TOTP factor,
# a confidential application.
seed_data() {
  python3 - "$base" <<'PY'
import base64, json, os, sys, urllib.request
base = sys.argv[1]
def call(method, path, body=None, token=None):
    req = urllib.request.Request(base + path, method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={"content-type": "application/json", **({"authorization": "Bearer " + token} if token else {})})
    with urllib.request.urlopen(req) as r:
        return json.load(r)
user = call("POST", "/v1/auth/signup", {"email": os.environ["FUZZ_EMAIL"], "password": os.environ["FUZZ_PASSWORD"]})
claims = user["access_token"].split(".")[1]
claims = json.loads(base64.urlsafe_b64decode(claims + "=" * (-len(claims) % 4)))
key = os.environ["FUZZ_SECRET_KEY"]
# The fuzzer changes the tenant's MFA policy (as it should), and some generated bodies get
# past the hooks' mapping (a PUT /api/v2/guardian/policies turned mfa_required on mid-run):
# an exemption keeps the fuzz user's own sign-in (the token fetch) free of a second factor
# whatever the fuzzed policy says. The fuzzer never reaches this rule: it puts no real user
# id in a rule's path.
call("PUT", f"/v1/admin/mfa-rules/user/{user['user']['id']}",
     {"exempt_days": 90, "reason": "the API fuzzer's own user"}, key)
factor = call("POST", f"/v1/users/{user['user']['id']}/mfa/factors", {"type": "totp", "name": "fuzz"}, key)
app = call("POST", "/v1/admin/applications", {"name": "fuzz", "type": "confidential", "redirect_uris": ["https://fuzz.example/cb"]}, key)
print(f"export FUZZ_USER_ID={user['user']['id']} FUZZ_TENANT_ID={claims['tid']} FUZZ_FACTOR_ID={factor['factor_id']} FUZZ_APPLICATION_ID={app['id']}")
PY
}

status=0
for store in $stores; do
  started=$(date +%s)
  data="$work/$store"
  mkdir -p "$data"
  unset DATABASE_URL LATCHKEY_MASTER_KEY
  export LATCHKEY_DATA_DIR="$data/data"
  if [ "$store" = postgres ]; then
    pg_admin="${LATCHKEY_TEST_DATABASE_URL:-}"
    if [ -z "$pg_admin" ]; then
      if [ -n "${CI:-}" ]; then echo "fuzz: CI must set LATCHKEY_TEST_DATABASE_URL" >&2; exit 1; fi
      echo "fuzz: LATCHKEY_TEST_DATABASE_URL unset: PostgreSQL run skipped"; continue
    fi
    # A throwaway database of our own, dropped on exit.
    pg_db="lk_fuzz_$$"
    psql "$pg_admin" -qc "drop database if exists \"$pg_db\" with (force)" -c "create database \"$pg_db\"" >/dev/null
    pg_base="${pg_admin%%\?*}"  # the URL with its database replaced, query string kept
    export DATABASE_URL="${pg_base%/*}/$pg_db${pg_admin#"$pg_base"}" LATCHKEY_MASTER_KEY="$(python3 -c 'import secrets;print(secrets.token_hex(32))')"
  fi
  # The fuzzer's key may do everything, the destructive MFA operations included
  # (`--scope mfa:admin`), so they are fuzzed too; made by the command line on the store the
  # server then serves (the first start there, with the bootstrap key).
  FUZZ_SECRET_KEY=$(LATCHKEY_BOOTSTRAP_SECRET_KEY="$FUZZ_BOOTSTRAP_KEY" LATCHKEY_LOG_LEVEL=error \
    "$bin" keys create --name fuzz --scope mfa:admin | sed -n 's/^secret_key: *//p')
  [ -n "$FUZZ_SECRET_KEY" ] || { echo "fuzz: could not create the fuzzer's key" >&2; exit 1; }
  export FUZZ_SECRET_KEY
  start_server "$data/server.log"
  ids=$(seed_data)  # a failure here stops the script (set -e), unlike inside eval "$(…)"
  eval "$ids"
  echo "fuzz: $store: $base, seed $seed, $examples examples per operation"
  args=(--config-file "$root/scripts/fuzz/schemathesis.toml" run "$base/openapi.json"
    --checks all,latchkey_json_envelope,latchkey_no_secret_echo
    --max-examples "$examples" --seed "$seed" --generation-database none
    --workers 2 --max-response-time 10 --request-timeout 30
    --baseline "$root/scripts/fuzz/baseline.json"
    --no-color --output-truncate true)
  [ -n "$update" ] && args+=(--baseline-update)
  run_status=0
  # From the run's own directory: schemathesis keeps a cache (.schemathesis/) where it runs, and
  # a cache from an earlier run would make this one differ from a clean clone's.
  (cd "$data" && SCHEMATHESIS_HOOKS="$root/scripts/fuzz/hooks.py" python3 -m schemathesis.cli "${args[@]}") \
    >"$data/schemathesis.txt" 2>&1 || run_status=$?
  # The summary, and every finding in full when there is one.
  if [ "$run_status" -ne 0 ]; then
    cat "$data/schemathesis.txt"
    # What the server logged about its failures (a 500's cause is logged, never answered).
    echo "fuzz: $store: the server's errors and warnings:" >&2
    grep -E " (ERROR|WARN) " "$data/server.log" | grep -v "DEVELOPMENT-ONLY" | tail -n 20 >&2 || true
  else
    sed -n '/= SUMMARY =/,$p' "$data/schemathesis.txt"
  fi
  if ! kill -0 "$server_pid" 2>/dev/null || ! curl -sf "$base/healthz" >/dev/null; then
    echo "fuzz: $store: the server died during the run; its log:" >&2; tail -n 50 "$data/server.log" >&2; run_status=1
  fi
  if grep -n "panicked" "$data/server.log" >&2; then echo "fuzz: $store: the server panicked" >&2; run_status=1; fi
  kill "$server_pid"; wait "$server_pid" 2>/dev/null || true; server_pid=""
  if [ -n "$pg_db" ]; then psql "$pg_admin" -qc "drop database if exists \"$pg_db\" with (force)" >/dev/null; pg_db=""; fi
  echo "fuzz: $store: $([ "$run_status" -eq 0 ] && echo passed || echo FAILED) in $(( $(date +%s) - started ))s"
  [ "$run_status" -eq 0 ] || status=1
done
exit "$status"
