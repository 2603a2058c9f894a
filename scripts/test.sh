#!/usr/bin/env bash
# The whole test suite, from a clean clone: install what is needed, check
# formatting and lints, run every test. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
# Keep build output outside the clone so repeat runs reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
mkdir -p "$CARGO_TARGET_DIR"
free_kb=$(df -Pk "$CARGO_TARGET_DIR" | awk 'NR == 2 { print $4 }')
if (( free_kb < 10 * 1024 * 1024 )); then
  echo "test: warning: only $((free_kb / 1024)) MB free under $CARGO_TARGET_DIR; a clean build needs about 10 GB" >&2
fi
# One build per run: incremental caches would only add gigabytes on disk.
export CARGO_INCREMENTAL="${CARGO_INCREMENTAL:-0}"

if [[ -x scripts/pg-test-env.sh ]]; then
  # Installs and starts Debian's PostgreSQL where it can, and prints the
  # URL for the backend tests; where it cannot, the PostgreSQL tests say
  # they are skipped.
  if url=$(./scripts/pg-test-env.sh); then
    export OUTPOST_TEST_PG_URL="$url"
  else
    echo "test: PostgreSQL could not be started; its tests will report SKIPPED" >&2
  fi
fi

echo "== UI: install, type check, unit tests (Vitest), build"
npm ci --prefix ui --no-audit --no-fund --loglevel=error
npm --prefix ui run check
log=$(mktemp)
trap 'rm -f "$log"' EXIT
NO_COLOR=1 npm --prefix ui test 2>&1 | tee -a "$log"
npm --prefix ui run build >/dev/null

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee -a "$log"
echo "== OS keyring tests (private D-Bus session, unlocked gnome-keyring)"
./scripts/with-keyring.sh cargo test --workspace --locked -- --ignored keyring_round_trip 2>&1 | tee -a "$log"
echo "== disk full and read-only on real file systems (tmpfs, read-only bind mount)"
./crates/faultvfs/real-fs.sh 2>&1 | tee -a "$log"
echo "== fuzzing: every target for a short while from its seeds (scripts/fuzz.sh long for the long run)"
./scripts/fuzz.sh smoke "${OUTPOST_FUZZ_SECS:-20}"
echo "== dependency checks: cargo deny (licenses, bans, sources), npm audit"
./scripts/audit.sh
echo "== end to end: the desktop app through WebDriver under Xvfb"
OUTPOST_E2E_SKIP_UI=1 tests/e2e/run.sh test 2>&1 | tee -a "$log"

# One closing line over every test binary above (cargo prints one summary
# per binary, the last of which are empty doc-test runs).
# Vitest prints one "Tests  N failed | N passed | N skipped (N)" line.
awk '{ gsub(/\033\[[0-9;]*m/, "") }
     /^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i) ~ /^passed/) p += $(i-1)
         if ($(i) ~ /^failed/) f += $(i-1)
         if ($(i) ~ /^ignored/) s += $(i-1)
       }
     }
     /^ *Tests  +[0-9]/ {
       for (i = 1; i <= NF; i++) {
         if ($(i) == "passed") p += $(i-1)
         if ($(i) == "failed") f += $(i-1)
         if ($(i) == "skipped" || $(i) == "todo") s += $(i-1)
       }
     }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
