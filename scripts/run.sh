#!/usr/bin/env bash
# Install what is needed and run Outpost. Until the desktop app lands this
# runs the `outpost` command line on a demo store seeded with realistic
# notes, so a newcomer can see the engine work.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
cargo build --release --locked -p outpost-cli
bin="$CARGO_TARGET_DIR/release/outpost"

demo="${OUTPOST_DEMO_DIR:-$HOME/.cache/outpost/demo}"
# The demo store is protected by a fixed passphrase so this runs without a
# keyring or a terminal. Your own stores use the OS keyring or a passphrase
# you choose (see README).
export OUTPOST_PASSPHRASE="${OUTPOST_PASSPHRASE:-outpost-demo}"
if [[ ! -f "$demo/outpost.db" ]]; then
  "$bin" --data-dir "$demo" seed --notes 500 --size 2048 --seed 1
fi
"$bin" --data-dir "$demo" status
echo
echo "Newest notes:"
"$bin" --data-dir "$demo" notes list | head -n 10
echo
echo "Try: $bin --data-dir $demo notes search garden"
echo "     (OUTPOST_PASSPHRASE=$OUTPOST_PASSPHRASE; see '$bin --help')"
if [[ $# -gt 0 ]]; then
  "$bin" --data-dir "$demo" "$@"
fi
