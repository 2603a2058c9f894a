#!/usr/bin/env bash
# The long crash storm: devices writing and syncing through `outpost debug
# write-loop --sync` against a real `outpost serve`, with SIGKILL at random
# moments to a device or the server, KILLS times (default 10,000; CI runs
# 200 in the test suite). Checks after every kill and at the end are those
# of crates/cli/tests/crash_storm.rs. Optimised build, so the storm spends
# its time in I/O and kills, not in unoptimised code.
#
#   scripts/crash-storm.sh              # 10,000 kills (about an hour)
#   scripts/crash-storm.sh 1000 SEED    # fewer kills, a given schedule
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
export OUTPOST_STORM_KILLS="${1:-10000}"
if [[ -n "${2:-}" ]]; then
  export OUTPOST_STORM_SEED="$2"
fi
exec cargo test --release --locked -p outpost-cli --test crash_storm -- --nocapture
