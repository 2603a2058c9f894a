#!/usr/bin/env bash
# Prepares a local PostgreSQL for the server's PostgreSQL tests and prints
# the URL to export as OUTPOST_TEST_PG_URL. Idempotent: installs Debian's
# postgresql if missing, starts the cluster, creates role `outpost` if
# absent and database `outpost_test` afresh (dropped first if present).
#
#   export OUTPOST_TEST_PG_URL="$(scripts/pg-test-env.sh)"
#   cargo test -p outpost-server
#
# Diagnostics go to stderr; stdout carries only the URL. Exits non-zero if
# PostgreSQL cannot be installed or started, or the URL does not log in,
# with the reason as the last line on stderr (scripts/test.sh shows it;
# under CI=true it stops the run, otherwise the PostgreSQL tests say
# SKIPPED).
#
# OUTPOST_PG_TEST_ENV_FAIL=REASON fails at once with REASON, touching
# nothing: to see what a broken PostgreSQL set-up does to a test run.
set -euo pipefail

PG_USER=outpost
PG_PASS=outpost
PG_DB=outpost_test
PG_PORT="${OUTPOST_PG_PORT:-5432}"

log() { echo "pg-test-env: $*" >&2; }
fail() {
    log "$*"
    exit 1
}

if [[ -n "${OUTPOST_PG_TEST_ENV_FAIL:-}" ]]; then
    fail "failing on purpose (OUTPOST_PG_TEST_ENV_FAIL): $OUTPOST_PG_TEST_ENV_FAIL"
fi

if ! ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1; then
    log "installing postgresql"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update >&2 || fail "apt-get update failed"
    apt-get install -y postgresql >&2 || fail "apt-get install postgresql failed"
fi

# The newest installed major version, and its default cluster.
PG_VERSION="$(ls /usr/lib/postgresql | sort -n | tail -1)"
if ! pg_lsclusters -h | awk '{print $1" "$2}' | grep -qx "$PG_VERSION main"; then
    log "creating cluster $PG_VERSION main"
    pg_createcluster "$PG_VERSION" main >&2 || fail "pg_createcluster $PG_VERSION main failed"
fi
if ! pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $4}' | grep -qx online; then
    log "starting cluster $PG_VERSION main"
    pg_ctlcluster "$PG_VERSION" main start >&2 || fail "pg_ctlcluster $PG_VERSION main start failed"
fi
PG_PORT="$(pg_lsclusters -h | awk -v v="$PG_VERSION" '$1 == v && $2 == "main" {print $3}')"

psql_admin() { su postgres -c "psql -p $PG_PORT -v ON_ERROR_STOP=1 -qAt $*"; }

# Wait for the cluster to accept connections (bounded; it usually takes
# well under a second once started).
ready=false
for _ in $(seq 1 30); do
    if psql_admin "-c 'SELECT 1'" >/dev/null 2>&1; then
        ready=true
        break
    fi
    sleep 1
done
$ready || fail "PostgreSQL $PG_VERSION on port $PG_PORT did not accept connections within 30 s"

if [ "$(psql_admin "-c \"SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'\"")" != "1" ]; then
    log "creating role $PG_USER"
    psql_admin "-c \"CREATE ROLE $PG_USER LOGIN PASSWORD '$PG_PASS'\"" >&2
fi
# A fresh database for every run: one left by another version of the code
# carries migrations this one does not know (sqlx refuses it), and the
# story tests' accounts pile up across runs.
log "creating database $PG_DB afresh"
psql_admin "-c \"DROP DATABASE IF EXISTS $PG_DB WITH (FORCE)\"" >&2
psql_admin "-c \"CREATE DATABASE $PG_DB OWNER $PG_USER\"" >&2

url="postgres://$PG_USER:$PG_PASS@127.0.0.1:$PG_PORT/$PG_DB"
# The tests log in over TCP with a password: check exactly that.
if ! err=$(PGCONNECT_TIMEOUT=10 psql "$url" -Atqc 'SELECT 1' 2>&1 >/dev/null); then
    fail "cannot log in as $PG_USER over TCP on port $PG_PORT: ${err##*$'\n'}"
fi
echo "$url"
