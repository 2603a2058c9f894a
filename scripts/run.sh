#!/usr/bin/env bash
# Install what is needed and run Outpost. Until the desktop app lands this
# runs the `outpost` command line: it starts a local sync server, seeds a
# demo store with realistic notes, registers it as an account and syncs a
# second device from it, so a newcomer sees the engine and sync work.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
cargo build --release --locked -p outpost-cli
bin="$CARGO_TARGET_DIR/release/outpost"

demo="${OUTPOST_DEMO_DIR:-$HOME/.cache/outpost/demo}"
port="${OUTPOST_DEMO_PORT:-8787}"
server="http://127.0.0.1:$port"
# The demo stores and account are protected by a fixed passphrase so this
# runs without a keyring or a terminal. Your own stores use the OS keyring
# or a passphrase you choose (see README).
export OUTPOST_PASSPHRASE="${OUTPOST_PASSPHRASE:-outpost-demo}"

"$bin" --data-dir "$demo/server" serve --listen "127.0.0.1:$port" &
server_pid=$!
trap 'kill "$server_pid" 2>/dev/null || true' EXIT
for _ in $(seq 1 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
  sleep 0.1
done

if [[ ! -f "$demo/laptop/outpost.db" ]]; then
  "$bin" --data-dir "$demo/laptop" seed --notes 500 --size 2048 --seed 1
  "$bin" --data-dir "$demo/laptop" account register --server "$server" --user demo
fi
echo "== laptop: sync"
"$bin" --data-dir "$demo/laptop" sync
if [[ ! -f "$demo/phone/outpost.db" ]]; then
  "$bin" --data-dir "$demo/phone" account login --server "$server" --user demo
fi
echo "== phone: sync"
"$bin" --data-dir "$demo/phone" sync
"$bin" --data-dir "$demo/phone" status
echo
echo "Newest notes on the phone:"
"$bin" --data-dir "$demo/phone" notes list | head -n 10
echo
echo "Try: $bin --data-dir $demo/laptop notes add --title 'Hello' --body 'from the laptop'"
echo "     then 'sync' on the laptop and on the phone (OUTPOST_PASSPHRASE=$OUTPOST_PASSPHRASE)."
if [[ $# -gt 0 ]]; then
  "$bin" --data-dir "$demo/laptop" "$@"
fi
