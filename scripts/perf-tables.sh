#!/usr/bin/env bash
# Regenerates the tables of docs/PERFORMANCE.md: runs scripts/bench.sh over a matrix, records
# every scenario as a JSON line, and renders Markdown (scripts/perf_tables.py) to stdout or --out.
#
#   scripts/perf-tables.sh                                  # the full matrix (long: seeds 1M users twice)
#   scripts/perf-tables.sh --sizes "1000 2000" --duration 2s   # a quick trial of the tooling
#   scripts/perf-tables.sh --render-only results.jsonl [--out tables.md]
#
# The matrix, for each store in --stores (default "sqlite postgres"):
#   - every size in --sizes (users; default "1000 100000 1000000") × --scenarios
#     (default "verify-totp signin-mfa refresh"), one fresh seeded server per size;
#   - --once scenarios (default "healthz jwks signin enroll-totp") in the same run at the
#     smallest size only;
# then --replicas (default 2; 0: skip) PostgreSQL servers on one database running
# --replica-scenarios (default verify-totp) at --replica-users users (default: the smallest size).
#
# Defaults and why:
#   --challenges-small 4   pending challenges per user below 1,000,000 users (verify-totp
#                          uses half the users, two verifies per factor per 30-second step);
#   --challenges-large 1   at 1,000,000 users and more: 1 each already queues 500,000
#                          verifies, far more than a run can use, and keeps the 1M-user seed
#                          (about 2 min on SQLite, 5 on PostgreSQL here) and its database small.
#   Each TOTP factor can be used once per 30-second step (the bench uses the current and the
#   next), so verify-totp can do at most about users × (1 + (warmup + duration) / 30 s) / 2
#   verifies per run: at 1,000 users that is ~1,200 — less than one second at full rate — and the
#   table marks such rows with †. Use a smallest size of 10,000 for a meaningful verify-totp row.
#   --database-url         default $LATCHKEY_BENCH_DATABASE_URL or
#                          postgres://postgres@127.0.0.1:5432/latchkey_bench; bench.sh drops and
#                          recreates its `public` schema on every run.
#   --record FILE          default ${TMPDIR:-/tmp}/latchkey-perf-<UTC time>.jsonl (appended to;
#                          the tables show this run's --label only).
#   --duration, --warmup, --concurrency   passed to bench.sh (its defaults: 10s, 2s, 32).
set -euo pipefail
orig_pwd=$PWD
cd "$(dirname "$0")/.."

abs() { case "$1" in /*) echo "$1" ;; *) echo "$orig_pwd/$1" ;; esac; }

stamp=$(date -u +%Y%m%dT%H%MZ)
sizes="1000 100000 1000000"
scenarios="verify-totp signin-mfa refresh"
once="healthz jwks signin enroll-totp"
stores="sqlite postgres"
replicas=2
replica_scenarios="verify-totp"
replica_users=""
challenges_small=4 challenges_large=1
db="${LATCHKEY_BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/latchkey_bench}"
record="${TMPDIR:-/tmp}/latchkey-perf-$stamp.jsonl"
label="perf-tables $stamp"
out="" render_only=""
passthrough=()
while [ $# -gt 0 ]; do
  case "$1" in
    --sizes) sizes="$2"; shift ;;
    --scenarios) scenarios="$2"; shift ;;
    --once) once="$2"; shift ;;
    --stores) stores="$2"; shift ;;
    --replicas) replicas="$2"; shift ;;
    --replica-scenarios) replica_scenarios="$2"; shift ;;
    --replica-users) replica_users="$2"; shift ;;
    --challenges-small) challenges_small="$2"; shift ;;
    --challenges-large) challenges_large="$2"; shift ;;
    --database-url) db="$2"; shift ;;
    --record) record=$(abs "$2"); shift ;;
    --label) label="$2"; shift ;;
    --out) out=$(abs "$2"); shift ;;
    --render-only) render_only=$(abs "$2"); shift ;;
    --duration|--warmup|--concurrency) passthrough+=("$1" "$2"); shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown option $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

render() { # FILE [LABEL]
  local args=("$1")
  [ $# -gt 1 ] && args+=(--label "$2")
  [ -n "$out" ] && args+=(--out "$out")
  python3 scripts/perf_tables.py "${args[@]}"
}

if [ -n "$render_only" ]; then
  render "$render_only"
  exit 0
fi

for s in $stores; do
  case "$s" in sqlite|postgres) ;; *) echo "unknown store $s (sqlite, postgres)" >&2; exit 2 ;; esac
done
smallest=$(printf '%s\n' $sizes | sort -n | head -1)
[ -n "$smallest" ] || { echo "--sizes is empty" >&2; exit 2; }
if [ "$smallest" -lt 10000 ] && [[ " $scenarios $replica_scenarios " == *" verify-totp "* ]]; then
  echo "note: verify-totp at $smallest users runs out of seeded factors within about a second (marked † in the tables)" >&2
fi

# Scenarios in the bench's canonical order, without repeats.
canonical() {
  local want=" $* " s list=""
  for s in healthz jwks signin refresh verify-totp signin-mfa enroll-totp; do
    [[ "$want" == *" $s "* ]] && list+="$s "
  done
  for s in $*; do [[ " $list " == *" $s "* ]] || list+="$s "; done
  echo "${list% }"
}

failed=0
bench() { # bench.sh arguments; its output goes to stderr so stdout carries only the tables
  echo "+ scripts/bench.sh $*" >&2
  if ! scripts/bench.sh "$@" --label "$label" --record "$record" "${passthrough[@]}" >&2; then
    echo "perf-tables: that run failed; continuing" >&2
    failed=$((failed + 1))
  fi
}
challenges_for() { if [ "$1" -ge 1000000 ]; then echo "$challenges_large"; else echo "$challenges_small"; fi; }

echo "recording to $record (label \"$label\")" >&2
for store in $stores; do
  store_args=()
  [ "$store" = postgres ] && store_args=(--database-url "$db")
  for users in $(printf '%s\n' $sizes | sort -n); do
    list="$scenarios"
    [ "$users" = "$smallest" ] && list="$scenarios $once"
    bench "${store_args[@]}" --users "$users" --challenges "$(challenges_for "$users")" \
      --scenarios "$(canonical $list)"
  done
done
if [ "$replicas" -gt 1 ]; then
  replica_users=${replica_users:-$smallest}
  bench --database-url "$db" --replicas "$replicas" --users "$replica_users" \
    --challenges "$(challenges_for "$replica_users")" --scenarios "$(canonical $replica_scenarios)"
fi

[ -s "$record" ] && render "$record" "$label"
echo "recorded in $record; render again with: scripts/perf-tables.sh --render-only $record" >&2
[ "$failed" -eq 0 ] || { echo "perf-tables: $failed run(s) failed" >&2; exit 1; }
