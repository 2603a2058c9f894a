#!/usr/bin/env bash
# The long load and soak: 1,000 real devices (250 accounts x 4) against one
# `outpost serve` process for MINUTES (default 10) on SQLite, then the same
# on PostgreSQL (scripts/pg-test-env.sh prepares a local one; skipped, and
# said so, where it cannot). Each run prints a Markdown summary; it and the
# full JSON report (every memory sample) go to $CARGO_TARGET_DIR/soak/.
# Extra arguments go to the soak binary (`soak --help`).
#
#   scripts/soak.sh            # 10 minutes per backend
#   scripts/soak.sh 30 --seed 3
#
# Exits non-zero if any run lost a note, saw a failed request or could not run.
set -euo pipefail
cd "$(dirname "$0")/.."

MINUTES="${1:-10}"
shift || true
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
cargo build --release -p outpost-cli -p outpost-sim --bin outpost --bin soak
BIN="$CARGO_TARGET_DIR/release"
OUT="$CARGO_TARGET_DIR/soak"
mkdir -p "$OUT"
status=0

run() {
  local name="$1"
  shift
  echo "soak: $name, $MINUTES min" >&2
  if ! "$BIN/soak" --server-bin "$BIN/outpost" --minutes "$MINUTES" --json "$OUT/$name.json" "$@" | tee "$OUT/$name.md"; then
    echo "soak: $name FAILED" >&2
    status=1
  fi
}

run sqlite "$@"
if [[ -n "${OUTPOST_TEST_PG_URL:-}" ]] || OUTPOST_TEST_PG_URL="$(scripts/pg-test-env.sh)"; then
  run postgres --postgres "$OUTPOST_TEST_PG_URL" "$@"
else
  echo "soak: PostgreSQL SKIPPED (scripts/pg-test-env.sh could not prepare one)" >&2
fi
exit "$status"
