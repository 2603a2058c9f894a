#!/usr/bin/env bash
# End-to-end tests of the real desktop app: builds the app (UI embedded) and
# the CLI, starts a real `outpost serve` on a free loopback port, prepares
# device A (the app) and device B (the CLI) on one account, runs tauri-driver
# (WebKitWebDriver) on a virtual screen, and runs the WebDriver tests.
#
#   tests/e2e/run.sh [test|screenshots|bench|all]     default: test
#
#   test         tests/e2e/app.test.mjs: a screenshot of each step in
#                $CARGO_TARGET_DIR/e2e-artifacts/test/; prints a cargo-style
#                "test result:" line
#   screenshots  the main window in each state, light and dark, in
#                $CARGO_TARGET_DIR/e2e-artifacts/screenshots/
#   bench        cold start, typing latency, memory (and the release bundle's
#                size when E2E_BUNDLE=1: `tauri build --bundles deb` first)
#   FILE.mjs     any node script, with the same set-up (for debugging)
#
# E2E_PROFILE=release tests the release build (the benchmarks' figures);
# OUTPOST_E2E_SKIP_UI=1 skips the UI's npm ci and build (already done);
# E2E_KEEP=1 keeps the temporary data directories.
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$PWD
mode="${1:-test}"
case "$mode" in test | screenshots | bench | all | *.mjs) ;; *)
  echo "usage: tests/e2e/run.sh [test|screenshots|bench|all]" >&2
  exit 2
  ;;
esac

OUTPOST_SETUP_EXTRA="xvfb xauth webkit2gtk-driver imagemagick x11-utils" ./scripts/setup.sh
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
artifacts="$CARGO_TARGET_DIR/e2e-artifacts"
mkdir -p "$artifacts/logs"

# npm ci only when the lock file changed since the last install here.
npm_ci() { # dir
  local stamp="$1/node_modules/.outpost-e2e-lock"
  if ! cmp -s "$1/package-lock.json" "$stamp" 2>/dev/null; then
    npm ci --prefix "$1" --no-audit --no-fund --loglevel=error
    cp "$1/package-lock.json" "$stamp"
  fi
}

echo "== e2e: building the UI, the app (UI embedded) and the CLI"
npm_ci "$root"
if [[ "${OUTPOST_E2E_SKIP_UI:-}" != 1 ]]; then
  npm_ci "$root/ui"
  npm --prefix ui run build >/dev/null
fi
profile="${E2E_PROFILE:-debug}"
release=()
[[ "$profile" == release ]] && release=(--release)
cargo build --locked "${release[@]}" -p outpost-cli
cargo build --locked "${release[@]}" -p outpost-app --features custom-protocol
export E2E_OUTPOST="$CARGO_TARGET_DIR/$profile/outpost"
export E2E_APP="$CARGO_TARGET_DIR/$profile/outpost-app"
export E2E_APP_WRAPPER="$root/tests/e2e/app-wrapper.sh"
export E2E_ARTIFACTS="$artifacts"

if ! command -v tauri-driver >/dev/null; then
  cargo_bin="${CARGO_HOME:-$HOME/.cargo}/bin"
  if [[ ! -x "$cargo_bin/tauri-driver" ]]; then
    echo "== e2e: installing tauri-driver into $cargo_bin"
    cargo install tauri-driver --version '^2' --locked
  fi
  export PATH="$cargo_bin:$PATH"
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/outpost-e2e.XXXXXX")
export E2E_WORK="$work"
server_pid=""
driver_group=""
cleanup() {
  local rc=$?
  set +e
  if [[ -n "$driver_group" ]]; then
    # tauri-driver first (xvfb-run then stops its X server), then anything
    # left in the group (WebKitWebDriver, the app and its web processes).
    [[ -s "$work/driver.pid" ]] && kill "$(cat "$work/driver.pid")" 2>/dev/null
    for _ in $(seq 1 30); do kill -0 "$driver_group" 2>/dev/null || break; sleep 0.1; done
    kill -TERM -- "-$driver_group" 2>/dev/null
    sleep 0.3
    kill -KILL -- "-$driver_group" 2>/dev/null
  fi
  if [[ -n "$server_pid" ]]; then
    kill "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  cp "$work"/*.log "$artifacts/logs/" 2>/dev/null
  if [[ "${E2E_KEEP:-}" == 1 ]]; then echo "e2e: kept $work"; else rm -rf "$work"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_port() { # port what
  for _ in $(seq 1 300); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.1
  done
  echo "e2e: $2 did not listen on port $1" >&2
  return 1
}

# The sync server: SQLite in a temporary directory.
port=$(free_port)
export E2E_SERVER_URL="http://127.0.0.1:$port"
"$E2E_OUTPOST" --data-dir "$work/server" --log info serve --listen "127.0.0.1:$port" >"$work/server.log" 2>&1 &
server_pid=$!
wait_port "$port" "outpost serve"

# Two devices of one account: A (the app) registers, B (the CLI) logs in.
export OUTPOST_PASSPHRASE="e2e correct horse battery staple"
export E2E_DEVICE_A="$work/device-a" E2E_DEVICE_B="$work/device-b"
"$E2E_OUTPOST" --data-dir "$E2E_DEVICE_A" account register --server "$E2E_SERVER_URL" --user e2e >/dev/null
"$E2E_OUTPOST" --data-dir "$E2E_DEVICE_B" account login --server "$E2E_SERVER_URL" --user e2e >/dev/null

# tauri-driver on a virtual screen, in its own process group. The app
# inherits this environment: device A's store, unlocked by the passphrase,
# and the webview's own storage kept inside the work directory.
export E2E_DRIVER_PORT
E2E_DRIVER_PORT=$(free_port)
native_port=$(free_port)
while [[ "$native_port" == "$E2E_DRIVER_PORT" ]]; do native_port=$(free_port); done
# The native file picker cannot be driven through WebDriver: the app's
# picker answers this folder instead (OUTPOST_E2E_PICK), which the import
# test fills with Markdown files before it clicks Import.
export E2E_IMPORT_DIR="$work/import"
OUTPOST_DATA_DIR="$E2E_DEVICE_A" OUTPOST_SERVER_URL="$E2E_SERVER_URL" OUTPOST_E2E_PICK="$E2E_IMPORT_DIR" \
  XDG_DATA_HOME="$work/xdg/data" XDG_CACHE_HOME="$work/xdg/cache" XDG_CONFIG_HOME="$work/xdg/config" \
  setsid xvfb-run -a -s "-screen 0 1280x800x24" \
  bash -c 'echo $$ >"$1"; exec tauri-driver --port "$2" --native-port "$3"' _ \
  "$work/driver.pid" "$E2E_DRIVER_PORT" "$native_port" >"$work/driver.log" 2>&1 &
driver_group=$!
for _ in $(seq 1 300); do
  curl -fsS "http://127.0.0.1:$E2E_DRIVER_PORT/status" 2>/dev/null | grep -q '"ready": *true' && break
  kill -0 "$driver_group" 2>/dev/null || { cat "$work/driver.log" >&2; echo "e2e: tauri-driver exited" >&2; exit 1; }
  sleep 0.1
done
curl -fsS "http://127.0.0.1:$E2E_DRIVER_PORT/status" >/dev/null || { echo "e2e: tauri-driver is not ready" >&2; exit 1; }

# After the WebDriver tests, while everything still runs (WAL files
# included): none of the words the tests typed (tests/e2e/app.test.mjs), nor
# the passphrase, in any file of the app's data directory (device A), the
# CLI device's (B), the server's data directory (database, WAL) or the
# server's log. The webview's own storage (XDG directories) is reported,
# not judged: it belongs to WebKit.
no_plaintext() {
  local markers=("Field notes from the ridge" "Water at the north spring" "above the tree line"
    "Radio check at six" "Written while offline" "moved to the saddle" "closed for the season"
    "closed in winter" "$OUTPOST_PASSPHRASE")
  local must=("$E2E_DEVICE_A/outpost.db" "$E2E_DEVICE_B/outpost.db" "$work/server/server.db" "$work/server.log")
  local f args=() hits files
  for f in "${must[@]}"; do
    if [[ ! -s "$f" ]]; then
      echo "e2e: no-plaintext scan: $f is missing or empty" >&2
      return 1
    fi
  done
  for f in "${markers[@]}"; do args+=(-e "$f"); done
  files=$(find "$E2E_DEVICE_A" "$E2E_DEVICE_B" "$work/server" "$work/server.log" -type f | wc -l)
  hits=$(grep -rlaF "${args[@]}" "$E2E_DEVICE_A" "$E2E_DEVICE_B" "$work/server" "$work/server.log" || true)
  if [[ -n "$hits" ]]; then
    echo "e2e: no-plaintext scan FAILED: note text or the passphrase in plaintext in:" >&2
    echo "$hits" >&2
    return 1
  fi
  echo "e2e: no-plaintext scan: $files files of both devices and the server, no note text, no passphrase"
  hits=$(grep -rlaF "${args[@]}" "$work/xdg" 2>/dev/null || true)
  if [[ -n "$hits" ]]; then
    echo "e2e: note: the webview's own storage holds typed text: $(tr '\n' ' ' <<<"$hits")" >&2
  fi
}

status=0
if [[ "$mode" == test || "$mode" == all ]]; then
  echo "== e2e: WebDriver tests (screenshots in $artifacts/test)"
  rm -rf "$artifacts/test"
  started=$(date +%s)
  node --test --test-concurrency=1 \
    --test-reporter=spec --test-reporter-destination=stdout \
    --test-reporter=tap --test-reporter-destination="$work/tap.log" \
    tests/e2e/app.test.mjs || status=$?
  count() { awk -v k="# $1" '$1" "$2 == k { n = $3 } END { print n + 0 }' "$work/tap.log"; }
  passed=$(count pass) failed=$(count fail) skipped=$(($(count skipped) + $(count todo) + $(count cancelled)))
  # One more check, counted with the tests: no plaintext on disk.
  if no_plaintext; then passed=$((passed + 1)); else failed=$((failed + 1)) status=1; fi
  if ((status == 0 && failed == 0)); then verdict=ok; else verdict=FAILED; fi
  # The format scripts/test.sh totals (as cargo prints it).
  echo "test result: $verdict. $passed passed; $failed failed; $skipped ignored; 0 measured; 0 filtered out; finished in $(($(date +%s) - started))s"
fi
if [[ "$mode" == screenshots || "$mode" == all ]]; then
  echo "== e2e: screenshots of the main window ($artifacts/screenshots)"
  rm -rf "$artifacts/screenshots"
  node tests/e2e/screenshots.mjs || status=$?
fi
if [[ "$mode" == bench || "$mode" == all ]]; then
  echo "== e2e: benchmarks of the desktop app"
  if [[ "${E2E_BUNDLE:-}" == 1 ]]; then
    npx --no-install tauri build --bundles deb >"$work/bundle.log" 2>&1 || { tail -30 "$work/bundle.log" >&2; status=1; }
  fi
  node tests/e2e/bench.mjs || status=$?
fi
if [[ "$mode" == *.mjs ]]; then node "$mode" || status=$?; fi
exit "$status"
