#!/usr/bin/env bash
# The whole test suite, from a clean clone: install what is needed, check
# formatting and lints, run every test. `.ci/run` calls this.
set -euo pipefail
cd "$(dirname "$0")/.."

./scripts/setup.sh
# Keep build output outside the clone so repeat runs reuse it.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/outpost/target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"

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

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
log=$(mktemp)
trap 'rm -f "$log"' EXIT
echo "== cargo test"
cargo test --workspace --locked 2>&1 | tee -a "$log"
echo "== OS keyring tests (private D-Bus session, unlocked gnome-keyring)"
./scripts/with-keyring.sh cargo test --workspace --locked -- --ignored keyring_round_trip 2>&1 | tee -a "$log"

# One closing line over every test binary above (cargo prints one summary
# per binary, the last of which are empty doc-test runs).
awk '/^test result:/ {
       for (i = 1; i <= NF; i++) {
         if ($(i) ~ /^passed/) p += $(i-1)
         if ($(i) ~ /^failed/) f += $(i-1)
         if ($(i) ~ /^ignored/) s += $(i-1)
       }
     }
     END { printf "\ntests: %d passed, %d failed, %d skipped\n", p, f, s }' "$log"
