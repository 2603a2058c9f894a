#!/usr/bin/env bash
# Outpost against PouchDB 9 replication (express-pouchdb 4.2, memory
# adapters), side by side on the real-prose corpus, bytes counted at the
# socket by one relay. One command; prints both sides and a Markdown table.
#
#   scripts/bench-vs-pouchdb.sh [--notes 10000] [--more 1000]
#
# Needs Node.js 20+ with npm and Rust (like the test command); installs the
# corpus's source (python3-doc) with apt-get when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"

scripts/corpus-deps.sh
cargo build --release -q -p outpost-cli -p outpost-corpus
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
"$CARGO_TARGET_DIR/release/outpost-corpus" --out "$work/corpus.jsonl"
npm ci --prefix bench/pouchdb --no-audit --no-fund --silent
node bench/pouchdb/compare.mjs --outpost "$CARGO_TARGET_DIR/release/outpost" --corpus "$work/corpus.jsonl" "$@"
