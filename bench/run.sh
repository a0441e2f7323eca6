#!/usr/bin/env bash
# The spaces-oauth benchmark (see BENCHMARKS.md): the documented save mutation, the
# read-back query, the list query and the runtime's token read through a release build
# of the server, driven by wrk with every response checked, against the statements they
# stand for run as raw SQL by pgbench at the same concurrency, in the same run; then the
# save path on embedded SQLite.
#
#   bench/run.sh                      # everything, ~4 minutes
#   BENCH_DURATION=5 bench/run.sh     # shorter runs
#
# Environment (all optional):
#   BENCH_DURATION     seconds per measured run (15)
#   BENCH_CONNECTIONS  concurrency levels ("16 64")
#   BENCH_KEYS         distinct record keys (4096)
#   BENCH_ACCOUNTS     accounts, one bearer token each (8)
#   BENCH_PG_URL       use this PostgreSQL server (admin URL) instead of starting a
#                      throwaway cluster; pg_stat_statements is used if it is loadable
#   BENCH_PG_PORT      port of the throwaway cluster (55432)
#   BENCH_PORT         port of spaces-oauth (18080)
#   BENCH_SKIP_BUILD   1: use the existing release binary
#   BENCH_PERF         1: record a perf profile of the server during the c=16 save, read
#                      and token runs (target/bench/perf-<run>.data)
#   BENCH_PERF_CALLGRAPH  perf's call-graph mode (fp; dwarf when the binary has no frame pointers)
#   BENCH_SERVER_ENV   extra VAR=value settings for the server (space-separated)
#   BENCH_BIN          the server binary to measure (default the release build; implies
#                      no build), e.g. a copy of another commit's for an A/B run
#   BENCH_OPS          the operations measured through the server ("save read token list")
#   BENCH_SQLITE       0: skip the SQLite runs
#   BENCH_IDP_PORT     port of the identity-provider double, bench/idp.py (18081)
#   CARGO_TARGET_DIR   where the release binary is built (./target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$TARGET/bench
BIN=${BENCH_BIN:-$TARGET/release/spaces-oauth}
OPS=${BENCH_OPS:-save read token list}
IDP_PORT=${BENCH_IDP_PORT:-18081}
DURATION=${BENCH_DURATION:-15}
CONNECTIONS=${BENCH_CONNECTIONS:-16 64}
NKEYS=${BENCH_KEYS:-4096}
NACCOUNTS=${BENCH_ACCOUNTS:-8}
PG_PORT=${BENCH_PG_PORT:-55432}
PORT=${BENCH_PORT:-18080}
SPACE=bench-space
DB=spaces_oauth_bench
THREADS=$(nproc)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

mkdir -p "$WORK"
rm -f "$WORK"/pgbench_* "$WORK"/*.result
RESULTS=$WORK/results.txt
: >"$RESULTS"
IDP_PID=

cleanup() {
    stop_pid "$SERVER_PID"
    stop_pid "$IDP_PID"
    stop_postgres
}
trap cleanup EXIT

# ---------------------------------------------------------------------------------------
log "machine"
{
    echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //') x $(nproc)"
    echo "memory: $(free -m | awk '/Mem:/ {print $2}') MiB"
    echo "kernel: $(uname -r)"
    echo "wrk: $(wrk -v 2>&1 | head -1)"
    echo "pgbench: $(pgbench --version)"
    echo "rustc: $(rustc --version 2>/dev/null || echo '?')"
} | tee "$WORK/machine.txt"

build_server

# ---------------------------------------------------------------------------------------
start_postgres
PG_HOSTPORT=$(sed -E 's#^[a-z]+://([^/]*@)?([^/?]*).*#\2#' <<<"$ADMIN_URL")
create_database "$DB"
echo "postgresql: $(psql -tAq "$DB_URL" -c 'SHOW server_version'), pg_stat_statements: $PSS" | tee -a "$WORK/machine.txt"

# ---------------------------------------------------------------------------------------
# Explicit keys (dev mode is refused on PostgreSQL), no rate limit: the bench measures
# the save path, not the per-account token bucket.
export JWT_HS256_SECRET
JWT_HS256_SECRET=$(head -c 32 /dev/urandom | base64)
export VAULT_KEYS
VAULT_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
export RATE_LIMIT_RPS=0 LOG_FORMAT=json BIND_ADDR=127.0.0.1:$PORT DATA_DIR=$WORK/data
# The identity-provider double (bench/idp.py) answers over http on loopback.
export IDP_ALLOW_HTTP=127.0.0.1

# One bearer token per account for a Space UI, and one with oauth.token.read for an
# integration runtime (the token read).
TOKENS=$WORK/tokens.txt
RUNTIME_TOKENS=$WORK/runtime-tokens.txt
: >"$TOKENS"
: >"$RUNTIME_TOKENS"
for ((i = 0; i < NACCOUNTS; i++)); do
    "$BIN" token --account "bench-acct-$i" --space "$SPACE" --ttl-seconds 7200 >>"$TOKENS"
    "$BIN" token --account "bench-acct-$i" --space "$SPACE" --ttl-seconds 7200 \
        --scope oauth.token.read >>"$RUNTIME_TOKENS"
done

python3 "$ROOT/bench/idp.py" "$IDP_PORT" &
IDP_PID=$!

# Start-to-ready on an already-migrated database: three starts, the median.
start_to_ready() {
    local url=$1 times=()
    DATABASE_URL=$url "$BIN" migrate >/dev/null 2>&1 || die "migrate failed on $url"
    for _ in 1 2 3; do
        start_server "$url"
        times+=("$READY_MS")
        stop_server
    done
    MEDIAN_READY_MS=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)
}

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# Busy clock ticks of the whole machine (user, nice, system, irq, softirq), all cores.
busy_ticks() { awk '/^cpu / {print $2 + $3 + $4 + $7 + $8}' /proc/stat; }
# "$1 ticks over $2 requests" in microseconds per request (clock ticks are 1/100 s).
per_op() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%.2f", t / (n > 0 ? n : 1)}'; }
per_request_us() { awk -v t="$1" -v n="$2" 'BEGIN {printf "%d", t * 10000 / (n > 0 ? n : 1)}'; }
# CPU ticks of our throwaway PostgreSQL cluster: its live processes, plus what its exited
# backends (pgbench's) left in the postmaster's counters of reaped children.
db_ticks() {
    [[ -n $OWN_PG ]] || { echo 0; return; }
    local pm
    pm=$(head -1 "$WORK/pg/data/postmaster.pid")
    { awk '{print $16 + $17}' "/proc/$pm/stat"
      for p in "$pm" $(pgrep -P "$pm"); do cpu_ticks "$p" 2>/dev/null; done
    } | awk '{s += $1} END {print s + 0}'
}
# WAL flushes (fsyncs) so far: fewer than one per commit means commits shared them.
wal_syncs() { psql -tAq "$ADMIN_URL" -c "SELECT wal_sync FROM pg_stat_wal" 2>/dev/null || echo 0; }
# User + system seconds of the load generator, as /usr/bin/time wrote them to $1.
tool_ticks() { awk 'END {printf "%d", ($1 + $2) * 100}' "$1"; }
# The counters a run's costs are measured between: machine ticks, database ticks, WAL
# flushes.
counters() { echo "$(busy_ticks) $(db_ticks) $(wal_syncs)"; }
# The costs of a run, per request: $1 and $2 the counters before and after it, $3 the
# load generator's /usr/bin/time output, $4 the requests it made.
run_costs() {
    local busy0 db0 syncs0 busy1 db1 syncs1
    read -r busy0 db0 syncs0 <<<"$1"
    read -r busy1 db1 syncs1 <<<"$2"
    echo "loadgen_cpu_us=$(per_request_us "$(tool_ticks "$3")" "$4")" \
        "db_cpu_us=$(per_request_us $((db1 - db0)) "$4")" \
        "machine_cpu_us=$(per_request_us $((busy1 - busy0)) "$4")" \
        "wal_syncs_per_request=$(per_op $((syncs1 - syncs0)) "$4")"
}

# Rows and statements the server's save queue has written so far (its /metrics histogram).
save_statements() {
    curl -sf "http://127.0.0.1:$PORT/metrics" |
        awk '/^spaces_oauth_save_batch_rows_sum/ {r = $2} /^spaces_oauth_save_batch_rows_count/ {n = $2}
             END {printf "%d %d", r, n}'
}

# wrk run: $1 name, $2 mode (bench/graphql.lua's BENCH_MODE), $3 connections, $4 seconds,
# [$5 sequential]
wrk_run() {
    local name=$1 mode=$2 conns=$3 secs=$4 seq=${5:-0} out before after counters_before counters_after
    local rows0 statements0 rows1 statements1 tokens=$TOKENS
    [[ $mode == token ]] && tokens=$RUNTIME_TOKENS
    out=$WORK/$name.wrk
    counters_before=$(counters)
    read -r rows0 statements0 <<<"$(save_statements)"
    before=$(cpu_ticks "$SERVER_PID")
    local wrk_threads=$((conns < THREADS ? conns : THREADS))
    BENCH_MODE=$mode BENCH_KEYS=$NKEYS BENCH_SPACE=$SPACE BENCH_TOKENS=$tokens BENCH_SEQUENTIAL=$seq \
        BENCH_THREADS=$wrk_threads BENCH_IDP_URL="http://127.0.0.1:$IDP_PORT/token" \
        /usr/bin/time -f '%U %S' -o "$out.time" \
        wrk -t"$wrk_threads" -c"$conns" -d"${secs}s" --timeout 5s -s "$ROOT/bench/graphql.lua" \
        "http://127.0.0.1:$PORT" >"$out" 2>&1
    after=$(cpu_ticks "$SERVER_PID")
    read -r rows1 statements1 <<<"$(save_statements)"
    counters_after=$(counters)
    local line
    line=$(grep '^RESULT' "$out") || die "wrk failed: $(cat "$out")"
    grep '^FIRST_FAILURE' "$out" >&2 || true
    local requests
    requests=$(sed -E 's/.*requests=([0-9]+).*/\1/' <<<"$line")
    # CPU time per request, in microseconds: the server's own, the load generator's, the
    # database's, and the whole machine's; and the database's WAL flushes per request.
    echo "$name $line server_cpu_us=$(per_request_us $((after - before)) "$requests")" \
        "rows_per_statement=$(per_op $((rows1 - rows0)) $((statements1 - statements0)))" \
        "$(run_costs "$counters_before" "$counters_after" "$out.time" "$requests")" | tee -a "$RESULTS"
}

# pgbench run: $1 name, $2 script, $3 connections, $4 seconds
pgbench_run() {
    local name=$1 script=$2 conns=$3 secs=$4 out tps p50 p99 before after
    out=$WORK/$name.pgbench
    rm -f "$WORK/pgbench_$name".*
    before=$(counters)
    /usr/bin/time -f '%U %S' -o "$out.time" \
        pgbench -n -M prepared -c "$conns" -j "$THREADS" -T "$secs" \
        -D nkeys="$NKEYS" -D naccounts="$NACCOUNTS" -D fp="$FP" -D binding="$BINDING" -D sealed=- \
        -f "$ROOT/bench/$script" \
        -l --log-prefix="$WORK/pgbench_$name" "$DB_URL" >"$out" 2>&1 || die "pgbench failed: $(cat "$out")"
    sleep 0.2 # the postmaster reaps pgbench's backends
    after=$(counters)
    tps=$(sed -nE 's/^tps = ([0-9.]+) \(without.*/\1/p' "$out")
    read -r p50 p99 < <(cat "$WORK/pgbench_$name".* | awk '{print $3}' | sort -n |
        awk '{v[NR] = $1} END {printf "%.3f %.3f\n", v[int(NR * 0.5)] / 1000, v[int(NR * 0.99)] / 1000}')
    local failed transactions
    failed=$(sed -nE 's/^number of failed transactions: ([0-9]+).*/\1/p' "$out")
    transactions=$(sed -nE 's/^number of transactions actually processed: ([0-9]+).*/\1/p' "$out")
    echo "$name RESULT rps=$tps p50_ms=$p50 p99_ms=$p99 failed=${failed:-0}" \
        "$(run_costs "$before" "$after" "$out.time" "${transactions:-0}")" | tee -a "$RESULTS"
}

field() { sed -nE "s/^$1 .*$2=([0-9.]+).*/\\1/p" "$RESULTS" | tail -1; }

# ---------------------------------------------------------------------------------------
log "PostgreSQL: start-to-ready on a migrated database (median of 3)"
start_to_ready "$DB_URL"
PG_READY_MS=$MEDIAN_READY_MS
echo "start_to_ready_pg_ms=$PG_READY_MS" | tee -a "$RESULTS"
start_server "$DB_URL"

log "seeding every key through the server (also the warm-up)"
wrk_run seed save 16 5 1 >/dev/null
rows=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM connector_details")
echo "rows: $rows of $NKEYS keys"
[[ $rows == "$NKEYS" ]] || die "seeding wrote $rows rows, not $NKEYS: run longer (BENCH_DURATION) or fewer keys"
# The fingerprint and binding every record has (one client id for all keys), for
# bench/save.sql to write what the server writes.
read -r FP BINDING < <(psql -tAq -F ' ' "$DB_URL" -c "SELECT token_settings_fingerprint, secret_binding FROM connector_details LIMIT 1")

# Token seeding: every key gets a second record (connection c2) whose details point at
# the IdP double, then a client-credentials token, vaulted by the server as in
# production. The generate runs repeat until every record holds a token.
log "seeding a token for every key (client credentials from bench/idp.py)"
wrk_run tokenseed tokensave 16 5 1 >/dev/null
rows=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM connector_details WHERE connection_id = 'c2'")
[[ $rows == "$NKEYS" ]] || die "token seeding saved $rows records, not $NKEYS"
for secs in 10 20 40; do
    wrk_run "tokenseed_generate_$secs" generate 16 "$secs" 1 >/dev/null
    held=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM oauth_tokens")
    [[ $held == "$NKEYS" ]] && break
done
held=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM oauth_tokens")
echo "tokens: $held of $NKEYS keys"
[[ $held == "$NKEYS" ]] || die "token seeding left $held tokens, not $NKEYS"

# Database round trips per request of one operation: strace of the server, one wrk
# connection, 2 s. $1 the operation (a BENCH_MODE).
round_trips() {
    local op=$1 requests sends messages n kind
    command -v strace >/dev/null || { echo "strace missing: round trips not measured"; return; }
    [[ $PSS == 1 ]] && psql -q "$DB_URL" -c "SELECT pg_stat_statements_reset()" >/dev/null
    # -s 1 keeps the first byte of each write: the PostgreSQL message type. A cached
    # prepared statement starts with Bind ("B"), a fresh one with Parse ("P"); sqlx's
    # ping (on returning a connection to the pool, or on acquiring one idle for 1 s) is a
    # lone Sync ("S").
    strace -f -qq -yy -s 1 -e trace=sendto,sendmsg,write,writev -o "$WORK/strace-$op.txt" -p "$SERVER_PID" &
    STRACE_PID=$!
    sleep 1
    wrk_run "rt_$op" "$op" 1 2 >/dev/null
    sleep 0.5
    kill "$STRACE_PID" && wait "$STRACE_PID" 2>/dev/null || true
    requests=$(field "rt_$op" requests)
    sends=$(grep -c -- "->127.0.0.1:${PG_HOSTPORT##*:}\]" "$WORK/strace-$op.txt" || true)
    messages=""
    for kind in P B S Q; do
        n=$(grep -- "->127.0.0.1:${PG_HOSTPORT##*:}\]" "$WORK/strace-$op.txt" | grep -c -- ">, \"$kind\"" || true)
        messages+=" $kind=$n"
    done
    echo "roundtrips_$op requests=$requests sends_to_db=$sends per_request=$(per_op "$sends" "$requests")" \
        "messages (first of each write; P=Parse B=Bind S=Sync Q=Query):$messages" | tee -a "$RESULTS"
    if [[ $PSS == 1 ]]; then
        psql -q "$DB_URL" -c "SELECT calls, round(calls::numeric / $requests, 2) AS per_request, left(regexp_replace(query, '\s+', ' ', 'g'), 90) AS statement FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB') ORDER BY calls DESC LIMIT 6" | tee "$WORK/statements-$op.txt"
        # The full text of the busiest statement, for bench/*.sql.
        psql -tAq "$DB_URL" -c "SELECT query FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB') ORDER BY calls DESC LIMIT 1" >"$WORK/statement-$op.sql"
    fi
}

log "database round trips per request (strace of the server, one connection, 2 s each)"
for op in $OPS; do
    round_trips "$op"
done

# A wrk run, with a perf profile of the server when BENCH_PERF=1 and the run is one of
# c=16's save, read or token: $1 name, $2 mode, $3 connections.
measured_run() {
    local name=$1 mode=$2 c=$3
    if [[ $c == 16 && ${BENCH_PERF:-0} == 1 && $mode =~ ^(save|read|token)$ ]] && command -v perf >/dev/null; then
        perf record -F 999 --call-graph "${BENCH_PERF_CALLGRAPH:-fp}" -o "$WORK/perf-$mode.data" -p "$SERVER_PID" -- sleep "$DURATION" >/dev/null 2>&1 &
        PERF_PID=$!
        wrk_run "$name" "$mode" "$c" "$DURATION"
        wait "$PERF_PID" || true
    else
        wrk_run "$name" "$mode" "$c" "$DURATION"
    fi
}

# Each operation through the server, then the statement it stands for in pgbench
# (bench/<op>.sql): save = the upsert, read = the read-back's SELECT, token = the token
# read's SELECT of record and token, list = the list's SELECT.
for op in $OPS; do
    log "$op through spaces-oauth vs bench/$op.sql in pgbench"
    for c in $CONNECTIONS; do
        measured_run "${op}_c$c" "$op" "$c"
        pgbench_run "pgbench_${op}_c$c" "$op.sql" "$c" "$DURATION"
    done
done
PG_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "peak_rss_pg_kb=$PG_RSS_KB" | tee -a "$RESULTS"
stop_server

# ---------------------------------------------------------------------------------------
SQLITE_READY_MS=-
SQLITE_RSS_KB=0
if [[ ${BENCH_SQLITE:-1} == 1 ]]; then
SQLITE_URL="sqlite://$WORK/sqlite/bench.db"
rm -rf "$WORK/sqlite" && mkdir -p "$WORK/sqlite"
log "SQLite: start-to-ready on a migrated database (median of 3)"
start_to_ready "$SQLITE_URL"
SQLITE_READY_MS=$MEDIAN_READY_MS
echo "start_to_ready_sqlite_ms=$SQLITE_READY_MS" | tee -a "$RESULTS"
start_server "$SQLITE_URL"
wrk_run sqlite_seed save 16 5 1 >/dev/null
log "save mutation on embedded SQLite"
for c in $CONNECTIONS; do
    wrk_run "sqlite_save_c$c" save "$c" "$DURATION"
done
SQLITE_RSS_KB=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
echo "peak_rss_sqlite_kb=$SQLITE_RSS_KB" | tee -a "$RESULTS"
stop_server
fi

# ---------------------------------------------------------------------------------------
log "summary (throughput in requests/s, latencies in ms)"
{
    printf '%-28s %10s %9s %9s %8s\n' run throughput p50 p99 failed
    for name in $(awk '/ RESULT /{print $1}' "$RESULTS" | grep -v -e seed -e '^rt_'); do
        printf '%-28s %10s %9s %9s %8s\n' "$name" "$(field "$name" rps)" "$(field "$name" p50_ms)" \
            "$(field "$name" p99_ms)" "$(field "$name" failed)"
    done
    echo
    for c in $CONNECTIONS; do
        for op in $OPS; do
            awk -v op="$op" -v c="$c" -v s="$(field "${op}_c$c" rps)" -v p="$(field "pgbench_${op}_c$c" rps)" \
                -v s99="$(field "${op}_c$c" p99_ms)" -v p99="$(field "pgbench_${op}_c$c" p99_ms)" \
                'BEGIN {printf "%-5s c=%-3s server/pgbench throughput %.2f   p99 %.1f ms vs %.1f ms\n", op, c, s / (p > 0 ? p : 1), s99, p99}'
        done
    done
    echo
    echo "CPU per request in µs (server, load generator, PostgreSQL, whole machine), WAL flushes per request"
    for name in $(awk '/ RESULT /{print $1}' "$RESULTS" | grep -v -e seed -e '^rt_'); do
        printf '%-28s %8s %8s %8s %8s %8s\n' "$name" "$(field "$name" server_cpu_us)" "$(field "$name" loadgen_cpu_us)" \
            "$(field "$name" db_cpu_us)" "$(field "$name" machine_cpu_us)" "$(field "$name" wal_syncs_per_request)"
    done
    echo
    echo "saves per INSERT statement (the save queue's batches):" \
        "$(for name in $(awk '/ RESULT /{print $1}' "$RESULTS" | grep -e '^save_' -e '^sqlite_save_'); do
            printf '%s %s  ' "$name" "$(field "$name" rows_per_statement)"
        done)"
    echo "server peak RSS: $((PG_RSS_KB / 1024)) MiB on PostgreSQL, $((SQLITE_RSS_KB / 1024)) MiB on SQLite"
    echo "start-to-ready (migrated database): ${PG_READY_MS} ms PostgreSQL, ${SQLITE_READY_MS} ms SQLite"
    grep -e '^roundtrips_' "$RESULTS" || true
} | tee "$WORK/summary.txt"
echo "raw results: $RESULTS; logs and wrk/pgbench outputs in $WORK"
