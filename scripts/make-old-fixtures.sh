#!/usr/bin/env bash
# Writes the "old format" fixtures: a device store and a sync server
# database made by the real `outpost` binary of commit c582ebc (store
# schema 7, core migrations 0001-0007; server migrations up to
# 20250510000000_session_devices), before history, files, key rotation,
# notebooks, no-echo, snapshots and store-once. The tests in
# crates/cli/tests/old_format.rs open copies of them with the current code.
#
#   scripts/make-old-fixtures.sh          # SQLite fixtures only
#   OUTPOST_TEST_PG_URL=... scripts/make-old-fixtures.sh
#                                         # also a pg_dump of the old server
#                                         # run on PostgreSQL (see below)
#
# What it does: a throw-away git worktree at c582ebc, the old binary built
# there (debug, CARGO_TARGET_DIR $HOME/.cache/outpost/target-old, so it
# never clashes with the current build), an old `outpost serve` on a free
# port of 127.0.0.1, and two old devices of one account writing, syncing,
# deleting, conflicting and editing offline. It then copies the server's
# database (checkpointed: one self-contained file) and device A's data
# directory into crates/cli/tests/fixtures/v7/ with manifest.json: the
# passphrase and user, and what the old binary itself showed of each note
# (title, body, tags, pin, sync badge), its outbox and its conflicts. The
# worktree is removed at the end, also on failure.
#
# PostgreSQL (optional): with OUTPOST_TEST_PG_URL set (scripts/pg-test-env.sh
# prints one), the same story runs once more against a new schema in that
# database, and `pg_dump` of that schema goes to server-postgres.sql; the
# schema is dropped afterwards. Without it, the existing PostgreSQL fixture
# is left as it is.
#
# Needs: git, cargo, sqlite3, jq; for PostgreSQL also psql and pg_dump.
set -euo pipefail
cd "$(dirname "$0")/.."

OLD_COMMIT=c582ebc
OUT=crates/cli/tests/fixtures/v7
PASS="old fixture passphrase, v7"
USER_NAME=olduser

for tool in git cargo sqlite3 jq; do
    command -v "$tool" >/dev/null || { echo "make-old-fixtures: $tool is needed" >&2; exit 1; }
done

work="$(mktemp -d)"
src="$work/src"
server_pid=""
cleanup() {
    if [[ -n "$server_pid" ]]; then
        kill "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    git worktree remove --force "$src" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

echo "make-old-fixtures: building the outpost binary of $OLD_COMMIT" >&2
git worktree add --detach "$src" "$OLD_COMMIT" >&2
export CARGO_TARGET_DIR="$HOME/.cache/outpost/target-old"
(cd "$src" && CARGO_INCREMENTAL=0 cargo build --locked -p outpost-cli --bin outpost >&2)
old="$CARGO_TARGET_DIR/debug/outpost"

# The old binary, passphrase stores (no OS keyring), quiet.
export OUTPOST_PASSPHRASE="$PASS"
unset OUTPOST_DATA_DIR OUTPOST_SERVER_DB
export OUTPOST_LOG=warn
export OUTPOST_DEVICE_NAME=old-device

# Starts the old server on a free port with the given `--db` (empty: its
# default SQLite file in $work/server); sets server_pid and url.
start_server() {
    local log="$work/server.log"
    : >"$log"
    if [[ -n "$1" ]]; then
        "$old" --data-dir "$work/server" serve --listen 127.0.0.1:0 --db "$1" 2>"$log" &
    else
        "$old" --data-dir "$work/server" serve --listen 127.0.0.1:0 2>"$log" &
    fi
    server_pid=$!
    url=""
    for _ in $(seq 1 300); do
        url="$(grep -o 'listening on http://[0-9.:]*' "$log" | head -1 | sed 's/listening on //')" || true
        [[ -n "$url" ]] && return 0
        kill -0 "$server_pid" 2>/dev/null || { cat "$log" >&2; echo "make-old-fixtures: the old server exited" >&2; exit 1; }
        sleep 0.1
    done
    echo "make-old-fixtures: the old server did not start" >&2
    exit 1
}

# Stops the old server gracefully (SIGTERM): it closes its pool, which
# checkpoints its SQLite WAL.
stop_server() {
    kill -TERM "$server_pid"
    wait "$server_pid" || true
    server_pid=""
}

a() { "$old" --data-dir "$work/a" "$@"; }
b() { "$old" --data-dir "$work/b" "$@"; }
c() { "$old" --data-dir "$work/c" "$@"; }

# Every note of a device, as the old binary shows them (`notes show --json`).
all_notes() {
    "$old" --data-dir "$1" notes list --json | jq -r '.[].id' | while read -r id; do
        "$old" --data-dir "$1" notes show "$id" --json
    done | jq -s 'sort_by(.title)'
}

# The story. Device A is the fixture's store; device B is a second device
# of the same account, so the server holds notes from two devices.
story() {
    rm -rf "$work/a" "$work/b"
    a account register --server "$url" --user "$USER_NAME" --device-name old-a >/dev/null
    plain=$(a notes add --title "Shopping list" --body $'eggs\nmilk\nbread')
    tagged=$(a notes add --title "Pinned and tagged" --body "Tagged #work, pinned to the top." \
        --tag work --tag "two words" --pin)
    unicode=$(a notes add --title "Ünïcödé ノート 🚀" \
        --body $'Grüße aus Köln — ¡olé! 日本語のテキスト、Ελληνικά, emoji 🎉👍🏽\nZeile zwei: «ß» ≠ "ss"' \
        --tag "étiquette")
    # A few KB, deterministic: numbered lines of prose.
    for i in $(seq 1 60); do
        printf 'Line %02d of the longish note: the quick brown fox jumps over the lazy dog.\n' "$i"
    done >"$work/long.md"
    long=$(a notes add --title "A longish note" --body-file "$work/long.md")
    doomed=$(a notes add --title "Soon deleted" --body "This note is deleted on device A.")
    conflicted=$(a notes add --title "Edited on both devices" --body $'first line\nsecond line\nthird line')
    offline=$(a notes add --title "Edited offline" --body "Before the offline edit.")
    a sync >/dev/null

    b account login --server "$url" --user "$USER_NAME" --device-name old-b >/dev/null
    b sync >/dev/null
    from_b=$(b notes add --title "Written on device B" --body "A note from the second device." --tag from-b)
    b sync >/dev/null

    a sync >/dev/null
    a notes rm "$doomed"
    # A conflict A records: with always-ask, both devices change the same
    # line and A pulls B's change over its own unsent one.
    a conflicts strategy always-ask --note "$conflicted" >/dev/null
    a sync >/dev/null
    b sync >/dev/null
    b notes edit "$conflicted" --body $'first line\nsecond line, as device B has it\nthird line' >/dev/null
    b sync >/dev/null
    a notes edit "$conflicted" --body $'first line\nsecond line, as device A has it\nthird line' >/dev/null
    a sync >/dev/null || true
    # B changes a note after A's last sync: A has something to pull.
    b notes edit "$plain" --body $'eggs\nmilk\nbread\nbutter (added on B)' >/dev/null
    b sync >/dev/null
    # The offline edit: saved on A, never synced, so still queued.
    a notes edit "$offline" --body "After the offline edit: still queued in A's outbox." --tag offline >/dev/null
}

# Checks that no SQLite file in directory $1 has a WAL or journal left.
one_file_each() {
    local leftover
    leftover="$(find "$1" -name '*-wal' -size +0 -o -name '*-journal' -size +0)"
    if [[ -n "$leftover" ]]; then
        echo "make-old-fixtures: not checkpointed: $leftover" >&2
        exit 1
    fi
    find "$1" \( -name '*-wal' -o -name '*-shm' \) -delete
}

# --- SQLite ---------------------------------------------------------------
start_server ""
story
# What the server holds, as a fresh old device gets it.
rm -rf "$work/c"
c account login --server "$url" --user "$USER_NAME" --device-name old-c >/dev/null
c sync >/dev/null
server_view="$(all_notes "$work/c")"
stop_server
# Each old command closed the store, and the server closed its pool: the
# WALs are checkpointed. Make sure, then copy.
for db in "$work/server/server.db" "$work/a/outpost.db"; do
    sqlite3 "$db" 'PRAGMA wal_checkpoint(TRUNCATE);' >/dev/null
done
one_file_each "$work/server"
one_file_each "$work/a"

rm -rf "$OUT/device-a" "$OUT/server.db"
mkdir -p "$OUT/device-a"
cp "$work/server/server.db" "$OUT/server.db"
(cd "$work/a" && find . -type f | sort) >"$work/a-files"
while read -r f; do
    mkdir -p "$OUT/device-a/$(dirname "$f")"
    cp "$work/a/$f" "$OUT/device-a/$f"
done <"$work/a-files"

# The manifest: what the old binary showed, read back through it.
notes_json="$(all_notes "$work/a")"
jq -n \
    --arg commit "$(git rev-parse "$OLD_COMMIT")" \
    --arg pass "$PASS" --arg user "$USER_NAME" \
    --argjson files "$(jq -R . <"$work/a-files" | jq -s 'map(ltrimstr("./"))')" \
    --argjson notes "$notes_json" \
    --argjson server_view "$server_view" \
    --argjson outbox "$(a outbox list --json)" \
    --argjson conflicts "$(a conflicts list --all --json)" \
    --argjson status "$(a status --json)" \
    --arg plain "$plain" --arg tagged "$tagged" --arg unicode "$unicode" --arg long "$long" \
    --arg doomed "$doomed" --arg conflicted "$conflicted" --arg offline "$offline" --arg from_b "$from_b" \
    --arg b_body $'eggs\nmilk\nbread\nbutter (added on B)' \
    '{
      made_by: {commit: $commit, script: "scripts/make-old-fixtures.sh", store_schema_version: 7,
                server_sqlite_migrations_up_to: "20250510000000_session_devices"},
      passphrase: $pass,
      passphrase_note: "OUTPOST_PASSPHRASE: both the store passphrase and the account passphrase",
      user: $user,
      server_db: "server.db",
      store_dir: "device-a",
      store_files: $files,
      ids: {plain: $plain, tagged: $tagged, unicode: $unicode, long: $long, deleted: $doomed,
            conflicted: $conflicted, offline: $offline, from_b: $from_b},
      server_only: {note: $plain, body: $b_body,
                    why: "device B edited it after device A last synced: A pulls it"},
      notes: $notes,
      server_view: $server_view,
      outbox: $outbox,
      conflicts: $conflicts,
      status: $status
    }' >"$OUT/manifest.json"

# --- PostgreSQL (optional) ------------------------------------------------
if [[ -n "${OUTPOST_TEST_PG_URL:-}" ]]; then
    for tool in psql pg_dump; do
        command -v "$tool" >/dev/null || { echo "make-old-fixtures: $tool is needed" >&2; exit 1; }
    done
    schema="old_fixture_$$"
    psql "$OUTPOST_TEST_PG_URL" -v ON_ERROR_STOP=1 -qc "CREATE SCHEMA $schema" >&2
    sep='?'
    [[ "$OUTPOST_TEST_PG_URL" == *\?* ]] && sep='&'
    pg_url="${OUTPOST_TEST_PG_URL}${sep}options=-c%20search_path%3D${schema}"
    start_server "$pg_url"
    story
    rm -rf "$work/c"
    c account login --server "$url" --user "$USER_NAME" --device-name old-c >/dev/null
    c sync >/dev/null
    jq -n --argjson server_view "$(all_notes "$work/c")" \
        --argjson newest "$(psql "$pg_url" -Atc 'SELECT max(version) FROM _sqlx_migrations')" \
        '{made_by: "scripts/make-old-fixtures.sh", user: "'"$USER_NAME"'", newest_migration: $newest,
          schema_placeholder: "outpost_old", server_view: $server_view}' >"$OUT/server-postgres.json"
    stop_server
    # --inserts: plain SQL statements (no COPY blocks), so a test can run
    # the file through any client; psql's own commands (`\restrict`) and
    # the session settings go, and the schema is named `outpost_old`.
    pg_dump --schema="$schema" --inserts --no-owner --no-privileges --no-comments "$OUTPOST_TEST_PG_URL" |
        sed -e "s/\\b$schema\\./outpost_old./g" -e "s/SCHEMA $schema\\b/SCHEMA outpost_old/g" \
            -e "/^SELECT pg_catalog.set_config('search_path'/d" -e '/^--/d' -e '/^SET /d' \
            -e '/^\\/d' |
        cat -s >"$OUT/server-postgres.sql"
    psql "$OUTPOST_TEST_PG_URL" -v ON_ERROR_STOP=1 -qc "DROP SCHEMA $schema CASCADE" >&2
    echo "make-old-fixtures: wrote $OUT/server-postgres.sql" >&2
fi

echo "make-old-fixtures: wrote $OUT:" >&2
(cd "$OUT" && find . -type f -exec ls -l {} + | awk '{print $5, $9}') >&2
