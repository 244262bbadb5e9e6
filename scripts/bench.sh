#!/usr/bin/env bash
# Runs the load generator against a fresh Latchkey server and prints one line per scenario.
#
#   scripts/bench.sh                       # release build, SQLite, 1000 seeded users, 10 s per scenario
#   scripts/bench.sh --smoke               # debug build, 1 s per scenario (what CI runs)
#   scripts/bench.sh --database-url postgres://postgres@127.0.0.1:5432/latchkey_bench
#   scripts/bench.sh --users 100000 --scenarios "verify-totp signin-mfa"
#   scripts/bench.sh --sqlite-synchronous normal
#   scripts/bench.sh --database-url postgres://… --replicas 2 --scenarios verify-totp
#   scripts/bench.sh --users 100000 --challenges 1 --label size --record results.jsonl
#   scripts/bench.sh --bin-dir /tmp/old      # binaries built elsewhere (before/after comparisons)
#
# --replicas N   N `latchkey serve` processes on one PostgreSQL database, each on its own port,
#                same master key and bootstrap key; the load generator spreads its workers over
#                them round-robin and sums their CPU and memory. PostgreSQL only.
# --record FILE  append one JSON line per scenario: the measured figures plus label, store,
#                users, replicas, database bytes (after seeding; `db_bytes_empty` before it),
#                bytes per user ((db_bytes - db_bytes_empty) / users), date and this command.
# --label TEXT   a free label stored in those lines (scripts/perf-tables.sh sets one).
# --bin-dir DIR  use DIR/latchkey and DIR/latchkey-bench as they are instead of building: for
#                comparing two versions on one machine, run after run (see docs/perf/).
#
# Server and load generator share this machine; see docs/PERFORMANCE.md.
set -euo pipefail
invoked=("$@")
orig_pwd=$PWD
cd "$(dirname "$0")/.."

profile=release duration=10s warmup=2s users=1000 challenges=4 concurrency=32 db="" scenarios=""
replicas=1 label="" record="" bin_dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --smoke) profile=debug duration=1s warmup=0s users=200 challenges=2 concurrency=8 ;;
    --database-url) db="$2"; shift ;;
    --users) users="$2"; shift ;;
    --challenges) challenges="$2"; shift ;;
    --concurrency) concurrency="$2"; shift ;;
    --duration) duration="$2"; shift ;;
    --warmup) warmup="$2"; shift ;;
    --scenarios) scenarios="$2"; shift ;;
    --sqlite-synchronous) export LATCHKEY_SQLITE_SYNCHRONOUS="$2"; shift ;;
    --replicas) replicas="$2"; shift ;;
    --label) label="$2"; shift ;;
    --record) record="$2"; shift ;;
    --bin-dir) bin_dir="$2"; shift ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
case "$replicas" in ''|*[!0-9]*|0) echo "--replicas needs a positive number" >&2; exit 2 ;; esac
if [ "$replicas" -gt 1 ] && [ -z "$db" ]; then
  echo "--replicas $replicas needs PostgreSQL (--database-url postgres://…): SQLite is one file for one server process" >&2
  exit 2
fi
case "$record" in ''|/*) ;; *) record="$orig_pwd/$record" ;; esac

flag=""; [ "$profile" = release ] && flag="--release"
if [ -n "$bin_dir" ]; then
  target=$(cd "$orig_pwd" && cd "$bin_dir" && pwd)
else
  cargo build -q $flag -p latchkey -p latchkey-bench
  target="${CARGO_TARGET_DIR:-target}/$profile"
fi

work=$(mktemp -d)
pids=()
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT
key="sk_live_benchmarkkey000000000000000000000000000000"
export LATCHKEY_BOOTSTRAP_SECRET_KEY="$key" LATCHKEY_DATA_DIR="$work/data" LATCHKEY_LOG_LEVEL=warn
if [ -n "$db" ]; then
  export DATABASE_URL="$db" LATCHKEY_MASTER_KEY="$(python3 -c 'import os;print(os.urandom(32).hex())')"
  # A clean database each run.
  psql "$db" -qc 'drop schema public cascade; create schema public' >/dev/null 2>&1 || true
fi
# The load generator's many users come from one address: lift the send limits it would hit.
"$target/latchkey" migrate >/dev/null
# The size of the store with no users (default tenant, keys), so bytes per user leave it out.
empty_out=$("$target/latchkey" seed --users 0 --prefix empty)
seed_out=$("$target/latchkey" seed --users "$users" --challenges "$challenges" --manifest "$work/manifest.jsonl")
echo "# $seed_out"
# Settle PostgreSQL after the bulk load (statistics, visibility map, dirty pages on disk) so
# neither autovacuum nor a checkpoint's writes run during the measurement, as they would not
# right after a bulk load on a database in steady use.
if [ -n "$db" ]; then
  psql "$db" -qc 'VACUUM ANALYZE' >/dev/null
  psql "$db" -qc 'CHECKPOINT' >/dev/null
fi

free_port() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])'; }
urls=() bench_args=()
# One at a time: each replica is ready (migrations checked, keys loaded) before the next starts.
for i in $(seq "$replicas"); do
  port=$(free_port)
  "$target/latchkey" serve --listen "127.0.0.1:$port" >"$work/server$i.log" 2>&1 &
  pid=$!
  pids+=("$pid")
  ready=""
  for _ in $(seq 100); do
    if curl -sf "http://127.0.0.1:$port/readyz" >/dev/null; then ready=1; break; fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if [ -z "$ready" ]; then
    echo "server $i (port $port) did not become ready; its log:" >&2
    cat "$work/server$i.log" >&2
    exit 1
  fi
  urls+=("http://127.0.0.1:$port")
  bench_args+=(--url "http://127.0.0.1:$port" --server-pid "$pid")
done
store=$([ -n "$db" ] && echo postgres || echo sqlite)
machine="$(uname -m), $(nproc) cores, $(free -g | awk '/Mem/{print $2}') GiB"
echo "# $machine; $profile build; $( [ -n "$db" ] && echo PostgreSQL || echo SQLite ); $users users$( [ "$replicas" -gt 1 ] && echo "; $replicas replicas" ); $(date -u +%Y-%m-%dT%H:%MZ)"
json_out=()
[ -n "$record" ] && json_out=(--json-out "$work/results.jsonl")
status=0
# shellcheck disable=SC2086
"$target/latchkey-bench" "${bench_args[@]}" --key "$key" \
  --concurrency "$concurrency" --duration "$duration" --warmup "$warmup" \
  --manifest "$work/manifest.jsonl" "${json_out[@]}" $scenarios || status=$?
for i in $(seq "$replicas"); do
  # Anything the servers logged at warn or above (start-up races between replicas, errors).
  if [ -s "$work/server$i.log" ]; then
    echo "# server $i logged:" >&2
    tail -n 20 "$work/server$i.log" >&2
  fi
done

if [ -n "$record" ] && [ -s "$work/results.jsonl" ]; then
  python3 - "$work/results.jsonl" "$record" "$label" "$store" "$users" "$challenges" "$replicas" \
    "$profile" "$machine" "$empty_out" "$seed_out" "${invoked[@]}" <<'EOF'
import json, re, shlex, sys, datetime
(results, record, label, store, users, challenges, replicas, profile, machine,
 empty_out, seed_out), invoked = sys.argv[1:12], sys.argv[12:]
def db_bytes(line):
    m = re.search(r"database (\d+) bytes", line)
    return int(m.group(1)) if m else None
def seed_secs(line):
    m = re.search(r" in ([0-9.]+)s;", line)
    return float(m.group(1)) if m else None
users, full, empty = int(users), db_bytes(seed_out), db_bytes(empty_out)
extra = {
    "label": label or None, "store": store, "users": users, "replicas": int(replicas),
}
tail = {
    "db_bytes": full, "db_bytes_empty": empty,
    "bytes_per_user": round((full - empty) / users, 1) if users and full is not None and empty is not None else None,
    "challenges": int(challenges), "seed_s": seed_secs(seed_out), "profile": profile, "machine": machine,
    "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    "command": shlex.join(["scripts/bench.sh", *invoked]),
}
with open(results) as src, open(record, "a") as out:
    for line in src:
        if line.strip():
            out.write(json.dumps({**extra, **json.loads(line), **tail}) + "\n")
EOF
fi
exit "$status"
