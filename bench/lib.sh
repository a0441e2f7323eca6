# Shared by bench/run.sh and bench/scale.sh (sourced, not run): logging, the tools and
# binary they need, a throwaway PostgreSQL cluster, and starting and stopping the server.
# The caller sets ROOT, WORK, BIN, PG_PORT and PORT first.

log() { printf '\n== %s\n' "$*" >&2; }
die() { printf 'bench: %s\n' "$*" >&2; exit 1; }

for tool in wrk pgbench psql curl; do
    command -v "$tool" >/dev/null || die "$tool is missing (Debian: apt-get install -y wrk postgresql-client curl)"
done

SERVER_PID=
OWN_PG=
# Extra VAR=value settings for the server.
read -r -a EXTRA_ENV <<<"${BENCH_SERVER_ENV:-}"

# PostgreSQL's server tools refuse to run as root: run them as `postgres` then.
as_pg() {
    if [[ $(id -u) == 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Builds the release binary unless told not to (BENCH_SKIP_BUILD=1, or BENCH_BIN given).
build_server() {
    if [[ ${BENCH_SKIP_BUILD:-0} != 1 && -z ${BENCH_BIN:-} ]]; then
        log "building spaces-oauth (release)"
        (cd "$ROOT" && cargo build --release -q -p server)
    fi
    [[ -x $BIN ]] || die "no release binary at $BIN"
}

# Sets ADMIN_URL: BENCH_PG_URL, or a throwaway cluster of our own in $WORK/pg on PG_PORT
# (pg_stat_statements preloaded, nothing shared), which stop_postgres stops.
start_postgres() {
    if [[ -n ${BENCH_PG_URL:-} ]]; then
        ADMIN_URL=$BENCH_PG_URL
        log "PostgreSQL: $ADMIN_URL"
        return
    fi
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [[ -x $PG_BIN/initdb ]] || die "no PostgreSQL server binaries (/usr/lib/postgresql/*/bin); set BENCH_PG_URL"
    if [[ ! -f $WORK/pg/data/PG_VERSION ]]; then
        log "initdb (throwaway cluster in $WORK/pg)"
        rm -rf "$WORK/pg" && mkdir -p "$WORK/pg"
        [[ $(id -u) == 0 ]] && chown -R postgres:postgres "$WORK/pg"
        as_pg "$PG_BIN/initdb" -D "$WORK/pg/data" -U postgres --auth=trust -E UTF8 >/dev/null
    fi
    log "starting PostgreSQL on 127.0.0.1:$PG_PORT"
    # A cluster left running by an interrupted run is stopped first.
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" status >/dev/null 2>&1 &&
        as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -l "$WORK/pg/log" -w \
        -o "-p $PG_PORT -k $WORK/pg -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_preload_libraries=pg_stat_statements" \
        start >/dev/null
    OWN_PG=1
    ADMIN_URL=postgres://postgres@127.0.0.1:$PG_PORT/postgres
}

# Stops process $1 if any. A `wait` on a killed process fails (143), which `set -e` would
# turn into an early exit of the cleanup trap, leaving the cluster running.
stop_pid() {
    [[ -n $1 ]] || return 0
    kill "$1" 2>/dev/null
    wait "$1" 2>/dev/null || true
}

stop_postgres() {
    [[ -n $OWN_PG ]] && as_pg "$PG_BIN/pg_ctl" -D "$WORK/pg/data" -m fast -w stop >/dev/null 2>&1
    true
}

# Sets DB_URL to database $1, dropped and created anew, and PSS to 1 when
# pg_stat_statements is there (reset).
create_database() {
    DB_URL=$(sed -E "s#/[^/?]*(\\?|\$)#/$1\\1#" <<<"$ADMIN_URL")
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $1" -c "CREATE DATABASE $1" >/dev/null
    PSS=0
    if psql -q "$DB_URL" -c "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" -c "SELECT pg_stat_statements_reset()" >/dev/null 2>&1; then
        PSS=1
    fi
}

# Starts the server on $1 (a database URL) and waits for /readyz; READY_MS is how long
# that took. (Not run in a subshell: SERVER_PID must stay set.)
start_server() {
    local url=$1 started ready
    started=$(date +%s%N)
    env "${EXTRA_ENV[@]}" DATABASE_URL="$url" "$BIN" serve >>"$WORK/server.log" 2>&1 &
    SERVER_PID=$!
    for ((n = 0; n < 5000; n++)); do
        if curl -sf -o /dev/null "http://127.0.0.1:$PORT/readyz"; then
            ready=$(date +%s%N)
            READY_MS=$(((ready - started) / 1000000))
            return
        fi
        kill -0 "$SERVER_PID" 2>/dev/null || die "the server exited; see $WORK/server.log"
        sleep 0.002
    done
    die "the server did not get ready; see $WORK/server.log"
}

stop_server() {
    stop_pid "$SERVER_PID"
    SERVER_PID=
}
