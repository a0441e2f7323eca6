#!/usr/bin/env bash
# Costs that do not grow with the data (issue 20; BENCHMARKS.md "Scale"): fills
# PostgreSQL with records through the server's own save mutation (each holding a sealed
# client secret), and at each size reports start-to-ready (median of 3), save and read
# throughput against pgbench running the same statements (bench/save.sql, read.sql), and
# the background refresher's sweep duration (spaces_oauth_refresh_sweep_duration_seconds).
# Sizes grow on one database: 100k is the 10k fill plus 90k more.
#
#   bench/scale.sh                                     # 10k, 100k, 1M (about an hour)
#   BENCH_SCALE_SIZES="10000 100000" bench/scale.sh    # a smoke check
#
# Environment (all optional):
#   BENCH_SCALE_SIZES  record counts, ascending ("10000 100000 1000000")
#   BENCH_DURATION     seconds per measured run (15)
#   BENCH_CONNECTIONS  concurrency of the measured runs (16)
#   BENCH_FILL_CONNECTIONS  concurrency of the fill (64)
#   BENCH_ACCOUNTS     accounts, one bearer token each (128: a tenant stays under the
#                      default quota of 10,000 records at 1M)
#   BENCH_PG_URL       use this PostgreSQL server (admin URL) instead of a throwaway
#                      cluster (which has pg_stat_statements preloaded)
#   BENCH_PG_PORT      port of the throwaway cluster (55433)
#   BENCH_PORT         port of spaces-oauth (18081)
#   BENCH_DB           database name (spaces_oauth_scale; dropped and refilled)
#   BENCH_SERVER_ENV   extra VAR=value settings for the server (space-separated)
#   BENCH_SKIP_BUILD   1: use the existing release binary
#   BENCH_BIN          use this binary (no build), e.g. a debug build for a smoke check
#   CARGO_TARGET_DIR   where the release binary is built (./target)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TARGET=${CARGO_TARGET_DIR:-$ROOT/target}
WORK=$TARGET/bench-scale
BIN=${BENCH_BIN:-$TARGET/release/spaces-oauth}
SIZES=${BENCH_SCALE_SIZES:-10000 100000 1000000}
DURATION=${BENCH_DURATION:-15}
CONNS=${BENCH_CONNECTIONS:-16}
FILL_CONNS=${BENCH_FILL_CONNECTIONS:-64}
NACCOUNTS=${BENCH_ACCOUNTS:-128}
PG_PORT=${BENCH_PG_PORT:-55433}
PORT=${BENCH_PORT:-18081}
SPACE=bench-space
DB=${BENCH_DB:-spaces_oauth_scale}
THREADS=$(nproc)

# shellcheck source=bench/lib.sh
source "$ROOT/bench/lib.sh"

mkdir -p "$WORK"
rm -f "$WORK"/pgbench_* "$WORK"/*.wrk
RESULTS=$WORK/results.txt
: >"$RESULTS"

cleanup() {
    stop_pid "$SERVER_PID"
    stop_postgres
}
trap cleanup EXIT

build_server

# ---------------------------------------------------------------------------------------
start_postgres
create_database "$DB"

export JWT_HS256_SECRET VAULT_KEYS
JWT_HS256_SECRET=$(head -c 32 /dev/urandom | base64)
VAULT_KEYS="bench:$(head -c 32 /dev/urandom | base64)"
# A sweep every second, so a measured run sees several.
export RATE_LIMIT_RPS=0 LOG_FORMAT=json BIND_ADDR=127.0.0.1:$PORT DATA_DIR=$WORK/data \
    REFRESH_INTERVAL_SECONDS=1
TOKENS=$WORK/tokens.txt
: >"$TOKENS"
for ((i = 0; i < NACCOUNTS; i++)); do
    "$BIN" token --account "bench-acct-$i" --space "$SPACE" --ttl-seconds 86400 >>"$TOKENS"
done
DATABASE_URL=$DB_URL "$BIN" migrate >/dev/null 2>&1 || die "migrate failed"

metric() {
    curl -sf "http://127.0.0.1:$PORT/metrics" | awk -v m="$1" '$1 == m {print $2}'
}
# Every save sends a real client secret, so every record holds a sealed one.
wrk_env() {
    env BENCH_SPACE=$SPACE BENCH_TOKENS=$TOKENS BENCH_ON_THE_FLY=1 BENCH_THREADS="$THREADS" \
        BENCH_CLIENT_SECRET=bench-secret "$@"
}

# Saves keys [$1, $2) through the server, in wrk runs of 10 s that resume where the last
# one stopped; every response is checked.
fill() {
    local from=$1 to=$2 out=$WORK/fill.wrk
    while ((from < to)); do
        wrk_env BENCH_MODE=save BENCH_FILL_FROM="$from" BENCH_FILL_TO="$to" BENCH_CONNS="$FILL_CONNS" \
            wrk -t"$THREADS" -c"$FILL_CONNS" -d10s --timeout 10s -s "$ROOT/bench/graphql.lua" \
            "http://127.0.0.1:$PORT" >"$out" 2>&1
        grep -q ' failed=0 ' "$out" || die "fill failed: $(cat "$out")"
        from=$(sed -nE 's/^FILLED_BELOW ([0-9]+)/\1/p' "$out")
        [[ -n $from ]] || die "fill: no progress line: $(cat "$out")"
        printf '%s@%ss ' "$from" "$SECONDS" >&2
    done
    echo >&2
    # A request lost with its connection (a socket error) leaves its key unwritten:
    # those few are saved one by one.
    local k
    for k in $(psql -tAq "$DB_URL" -c "SELECT g FROM generate_series($1, $to - 1) g EXCEPT SELECT substr(integration_pack_instance_id, 7)::int FROM connector_details WHERE integration_pack_instance_id LIKE 'ipack-%'"); do
        save_one "$k"
    done
}

# Saves key $1 with curl, as bench/graphql.lua does.
save_one() {
    local k=$1 token body
    token=$(sed -n "$((k % NACCOUNTS + 1))p" "$TOKENS")
    body=$(printf '{"query":"mutation Save($input: IPackInstanceOauthConnectorDetailsInput!) { saveIPackInstanceOauthConnectorDetails(input: $input) { id } }","variables":{"input":{"integrationPackInstanceId":"ipack-%d","processId":"p1","envId":"e1","connectionId":"c1","catalogGuid":"%s","isTokenGenerated":false,"oauthConnectorDetails":"{\\"baseURL\\":\\"https://idp.example.com\\",\\"clientId\\":\\"bench-client\\"}","clientId":"bench-client","clientSecret":"bench-secret-%d"}}}' "$k" "$SPACE" "$k")
    curl -sf "http://127.0.0.1:$PORT/graphql" -H 'Content-Type: application/json' \
        -H "SPACE_GUID: $SPACE" -H "Authorization: Bearer $token" -d "$body" |
        grep -q '"saveIPackInstanceOauthConnectorDetails":{"id"' || die "cannot save key $k"
}

# wrk run: $1 name, $2 mode, $3 keys; pgbench run: $1 name, $2 script, $3 keys.
wrk_run() {
    local out=$WORK/$1.wrk line
    wrk_env BENCH_MODE="$2" BENCH_KEYS="$3" \
        wrk -t"$((CONNS < THREADS ? CONNS : THREADS))" -c"$CONNS" -d"${DURATION}s" --timeout 5s \
        -s "$ROOT/bench/graphql.lua" "http://127.0.0.1:$PORT" >"$out" 2>&1
    line=$(grep '^RESULT' "$out") || die "wrk failed: $(cat "$out")"
    grep -q ' failed=0 ' <<<"$line" || die "$1: failed requests: $(grep FIRST_FAILURE "$out")"
    sed -E 's/.*rps=([0-9.]+).*/\1/' <<<"$line"
}
pgbench_run() {
    local out=$WORK/$1.pgbench
    pgbench -n -M prepared -c "$CONNS" -j "$THREADS" -T "$DURATION" \
        -D nkeys="$3" -D naccounts="$NACCOUNTS" -D fp="$FP" -D binding="$BINDING" -D sealed="$SEALED" \
        -f "$ROOT/bench/$2" "$DB_URL" >"$out" 2>&1 ||
        die "pgbench failed: $(cat "$out")"
    sed -nE 's/^tps = ([0-9.]+) \(without.*/\1/p' "$out"
}

# ---------------------------------------------------------------------------------------
filled=0
start_server "$DB_URL"
for size in $SIZES; do
    log "size $size: filling $filled .. $size through the save mutation"
    fill_started=$(date +%s)
    fill "$filled" "$size"
    fill_s=$(($(date +%s) - fill_started))
    rows=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM connector_details")
    sealed=$(psql -tAq "$DB_URL" -c "SELECT count(*) FROM connector_details WHERE sealed_client_secret_key_id = 'bench'")
    ((rows >= size)) || die "the fill wrote $rows rows, not $size"
    filled=$rows
    psql -q "$DB_URL" -c "VACUUM ANALYZE" >/dev/null
    # What every record has (one client id for all keys), for bench/save.sql; a
    # ciphertext-sized stand-in for the sealed secret (never a real ciphertext in argv).
    read -r FP BINDING < <(psql -tAq -F ' ' "$DB_URL" -c "SELECT token_settings_fingerprint, secret_binding FROM connector_details LIMIT 1")
    SEALED="bench:$(head -c 47 /dev/urandom | base64 -w0)"
    stop_server

    log "size $size: start-to-ready (median of 3)"
    times=()
    for _ in 1 2 3; do
        start_server "$DB_URL"
        times+=("$READY_MS")
        stop_server
    done
    ready_ms=$(printf '%s\n' "${times[@]}" | sort -n | sed -n 2p)

    start_server "$DB_URL"
    [[ $PSS == 1 ]] && psql -q "$DB_URL" -c "SELECT pg_stat_statements_reset()" >/dev/null
    sweeps0=$(metric spaces_oauth_refresh_sweep_duration_seconds_count)
    sweep_sum0=$(metric spaces_oauth_refresh_sweep_duration_seconds_sum)
    log "size $size: save and read, server vs pgbench, c=$CONNS, ${DURATION}s each"
    save=$(wrk_run "save_$size" save "$rows")
    pg_save=$(pgbench_run "pgbench_save_$size" save.sql "$rows")
    read=$(wrk_run "read_$size" read "$rows")
    pg_read=$(pgbench_run "pgbench_read_$size" read.sql "$rows")
    sweeps1=$(metric spaces_oauth_refresh_sweep_duration_seconds_count)
    sweep_sum1=$(metric spaces_oauth_refresh_sweep_duration_seconds_sum)
    sweep_ms=$(awk -v s0="${sweep_sum0:-0}" -v s1="${sweep_sum1:-0}" -v n0="${sweeps0:-0}" -v n1="${sweeps1:-0}" \
        'BEGIN {printf "%.2f", (n1 > n0) ? (s1 - s0) * 1000 / (n1 - n0) : -1}')
    if [[ $PSS == 1 ]]; then
        psql -q "$DB_URL" -c "SELECT calls, round(mean_exec_time::numeric, 3) AS mean_ms, left(regexp_replace(query, '\s+', ' ', 'g'), 100) AS statement FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = '$DB') ORDER BY calls DESC LIMIT 8" >"$WORK/statements_$size.txt"
    fi
    echo "size=$size rows=$rows sealed=$sealed fill_s=$fill_s ready_ms=$ready_ms save_rps=$save pgbench_save_tps=$pg_save read_rps=$read pgbench_read_tps=$pg_read sweep_ms=$sweep_ms sweeps=$((${sweeps1:-0} - ${sweeps0:-0}))" |
        tee -a "$RESULTS"
done
stop_server

# ---------------------------------------------------------------------------------------
log "summary"
{
    printf '%9s %9s %8s %9s %9s %6s %9s %9s %6s %9s\n' records sealed ready_ms save pg_save ratio read pg_read ratio sweep_ms
    awk '{
        for (i = 1; i <= NF; i++) { split($i, kv, "="); f[kv[1]] = kv[2] }
        printf "%9s %9s %8s %9.0f %9.0f %6.2f %9.0f %9.0f %6.2f %9s\n", f["size"], f["sealed"], f["ready_ms"],
            f["save_rps"], f["pgbench_save_tps"], f["save_rps"] / f["pgbench_save_tps"],
            f["read_rps"], f["pgbench_read_tps"], f["read_rps"] / f["pgbench_read_tps"], f["sweep_ms"]
    }' "$RESULTS"
} | tee "$WORK/summary.txt"
echo "raw results: $RESULTS; statements by size: $WORK/statements_*.txt"
