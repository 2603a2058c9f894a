#!/usr/bin/env bash
# Install what is needed and run Outpost: the desktop app, pointed at a
# sync server embedded here (`outpost serve`, SQLite), so a newcomer sees
# sync work. Run it again with OUTPOST_DEVICE=2 (another data directory,
# the same server) for a second device: register on the first in Settings,
# log in on the second with the same passphrase.
#
#   OUTPOST_DEVICE=N     which device (data directory) to open, default 1
#   OUTPOST_PORT=P       the embedded server's port, default 8787
#   OUTPOST_SERVER_URL   use this server instead of starting one
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
home="${OUTPOST_HOME:-$HOME/.cache/outpost}"
device="${OUTPOST_DEVICE:-1}"
port="${OUTPOST_PORT:-8787}"

echo "== building the UI and the app (the first build takes a few minutes)"
npm ci --prefix ui --no-audit --no-fund --loglevel=error
npm --prefix ui run build >/dev/null
cargo build --release --locked -p outpost-cli
cargo build --release --locked -p outpost-app --features custom-protocol
bin="$CARGO_TARGET_DIR/release"

pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done' EXIT
if [[ -z "${OUTPOST_SERVER_URL:-}" ]]; then
  export OUTPOST_SERVER_URL="http://127.0.0.1:$port"
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "== a sync server already answers on port $port; using it"
  else
    echo "== starting the embedded sync server on $OUTPOST_SERVER_URL (data in $home/server)"
    "$bin/outpost" --data-dir "$home/server" serve --listen "127.0.0.1:$port" &
    pids+=($!)
    for _ in $(seq 1 100); do
      (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break
      sleep 0.1
    done
  fi
fi

export OUTPOST_DATA_DIR="$home/device-$device"
echo "== Outpost, device $device (notes in $OUTPOST_DATA_DIR; sync server $OUTPOST_SERVER_URL)"
echo "   Settings (the gear) > Account: register here, then log in on a second device"
echo "   (OUTPOST_DEVICE=2 ./scripts/run.sh) with the same name and passphrase."
if [[ -n "${DISPLAY:-}" || -n "${WAYLAND_DISPLAY:-}" ]]; then
  "$bin/outpost-app"
else
  # No screen (a server, CI): run it on a virtual one and keep a picture.
  OUTPOST_SETUP_EXTRA="xvfb xauth imagemagick" ./scripts/setup.sh
  shot="$home/device-$device.png"
  xvfb-run -a -s "-screen 0 1280x800x24" bash -c '
    "$1" & app=$!
    sleep "${OUTPOST_RUN_SECONDS:-10}"
    import -window root "$2" && echo "no display: ran the app on a virtual screen; screenshot at $2"
    kill "$app"' _ "$bin/outpost-app" "$shot"
fi
