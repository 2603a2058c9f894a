#!/usr/bin/env bash
# Fuzzing with libFuzzer (fuzz/README.md lists the targets and what each
# checks).
#
#   scripts/fuzz.sh smoke [secs]   build every target, run each for a short
#                                  while (default 20 s) from its seeds: CI
#   scripts/fuzz.sh long [secs]    run each target for secs (default 600),
#                                  keeping the grown corpus in
#                                  fuzz/corpus/<target> between runs
#   scripts/fuzz.sh run TARGET [libFuzzer args...]
#                                  one target, by hand (a reproducer path
#                                  as the argument replays that input)
#   FUZZ_TARGETS="merge net_control" narrows smoke and long to those.
#
# Stable Rust only: the targets are built with plain `cargo build` and the
# coverage flags cargo-fuzz would pass with `--sanitizer none`, so neither
# nightly nor cargo-fuzz is needed. (With nightly and cargo-fuzz, `cargo
# fuzz run <target>` in fuzz/ works too and adds AddressSanitizer.)
#
# Exits non-zero when any target crashes, panics, times out or runs out of
# memory, and prints the path of the input that did it.
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
MODE=${1:-smoke}
ALL_TARGETS=(protocol_decode server_http merge net_control notes_import)
read -r -a TARGETS <<<"${FUZZ_TARGETS:-${ALL_TARGETS[*]}}"
HOST=$(rustc -vV | sed -n 's/^host: //p')
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$ROOT/fuzz/target}
BIN_DIR=$CARGO_TARGET_DIR/$HOST/release

build() {
    echo "== building fuzz targets (release, coverage-instrumented)"
    local started=$SECONDS
    # The flags cargo-fuzz passes with --sanitizer none. They go to the
    # target only (the explicit --target keeps them off build scripts and
    # proc macros), as with cargo-fuzz.
    RUSTFLAGS="--cfg fuzzing \
        -Cpasses=sancov-module \
        -Cllvm-args=-sanitizer-coverage-level=4 \
        -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
        -Cllvm-args=-sanitizer-coverage-pc-table \
        -Cllvm-args=-sanitizer-coverage-trace-compares \
        -Cllvm-args=-sanitizer-coverage-stack-depth \
        -Cdebug-assertions -Coverflow-checks ${RUSTFLAGS:-}" \
        cargo build --locked --release --manifest-path fuzz/Cargo.toml --target "$HOST" --bins
    echo "== built in $((SECONDS - started)) s"
}

# run TARGET SECS CORPUS_DIR: fuzz one target; fails on any finding.
run_one() {
    local target=$1 secs=$2 corpus=$3
    local artifacts=$ROOT/fuzz/artifacts/$target/
    local log
    mkdir -p "$corpus" "$artifacts"
    log=$(mktemp)
    echo "== $target for ${secs}s"
    set +e
    # -timeout: one input taking longer is a hang, reported as a crash.
    # Seeds (fuzz/seeds) and past crashes (fuzz/regressions) are read,
    # never written; new inputs go to $corpus.
    local inputs=("$corpus")
    for d in "$ROOT/fuzz/seeds/$target" "$ROOT/fuzz/regressions/$target"; do
        if [ -d "$d" ]; then inputs+=("$d"); fi
    done
    "$BIN_DIR/$target" "${inputs[@]}" \
        -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 \
        -print_final_stats=1 -artifact_prefix="$artifacts" >"$log" 2>&1
    local rc=$?
    set -e
    # The last status line has execs, coverage (cov) and features (ft).
    grep -E '^#[0-9]+' "$log" | tail -n 1 || true
    grep -E '^(Done|stat::number_of_executed_units|stat::average_exec_per_sec|stat::peak_rss_mb)' "$log" || true
    if [ $rc -ne 0 ]; then
        tail -n 60 "$log"
        echo "!! $target FAILED (exit $rc); reproducer:"
        grep -Eo "(Test unit written to|artifact_prefix.*) .*" "$log" || echo "   (none written; see the log above)"
        echo "   replay: scripts/fuzz.sh run $target <that file>"
        rm -f "$log"
        return 1
    fi
    rm -f "$log"
}

fail=0
case "$MODE" in
    smoke)
        secs=${2:-20}
        build
        for t in "${TARGETS[@]}"; do
            # A fresh corpus each time: CI measures the seeds, not history.
            work=$(mktemp -d)
            run_one "$t" "$secs" "$work" || fail=1
            rm -rf "$work"
        done
        ;;
    long)
        secs=${2:-600}
        build
        for t in "${TARGETS[@]}"; do
            run_one "$t" "$secs" "$ROOT/fuzz/corpus/$t" || fail=1
        done
        ;;
    run)
        target=${2:?usage: scripts/fuzz.sh run TARGET [libFuzzer args...]}
        shift 2
        build
        exec "$BIN_DIR/$target" -artifact_prefix="$ROOT/fuzz/artifacts/$target/" "$@"
        ;;
    *)
        echo "usage: scripts/fuzz.sh smoke [secs] | long [secs] | run TARGET [args...]" >&2
        exit 2
        ;;
esac
if [ $fail -ne 0 ]; then
    echo "== fuzzing found problems (reproducers above, under fuzz/artifacts/)"
    exit 1
fi
echo "== fuzzing: no crashes"
