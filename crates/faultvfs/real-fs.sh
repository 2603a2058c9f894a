#!/usr/bin/env bash
# The disk-full and read-only tests on real file systems
# (crates/core/tests/io_faults.rs, the ignored `really` tests, whose reason
# names this group): a 4 MiB tmpfs that fills up, and a read-only bind
# mount. They mount, so they run as root in a private mount namespace
# (nothing leaks to the host's mounts).
#
#   crates/faultvfs/real-fs.sh           run them (extra arguments go to
#                                        the test binary)
#   crates/faultvfs/real-fs.sh --probe   only say whether mounting works
#
# Where mounting is not allowed (an unprivileged container) it says why;
# under CI=true that fails (exit 1), otherwise it says SKIPPED and exits 0.
# Running no test at all fails: the two tests are chosen by exact name.
set -euo pipefail
cd "$(dirname "$0")/../.."

probe=$(mktemp -d)
if ! err=$(unshare --mount --propagation private mount -t tmpfs -o size=1m tmpfs "$probe" 2>&1); then
  rmdir "$probe"
  why="cannot mount here (needs root and CAP_SYS_ADMIN): ${err:-mount failed}"
  if [[ "${1:-}" == --probe || "${CI:-}" == true || "${CI:-}" == 1 ]]; then
    echo "real-fs: $why" >&2
    exit 1
  fi
  echo "real-fs: SKIPPED: $why; the fault-VFS tests cover the same paths" >&2
  exit 0
fi
rmdir "$probe"
if [[ "${1:-}" == --probe ]]; then exit 0; fi

# --workspace keeps the feature set of the workspace build (no rebuild);
# --test io_faults picks the one binary.
tests=(a_really_full_disk_refuses_a_save_clearly_and_saves_again_when_space_returns
  a_really_read_only_data_directory_is_refused_clearly_and_left_unchanged)
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
unshare --mount --propagation private \
  cargo test --workspace --locked --test io_faults -- --ignored --exact "${tests[@]}" "$@" 2>&1 | tee "$out" || rc=$?
ran=$(awk '/^test result:/ { for (i = 1; i <= NF; i++) if ($(i) ~ /^passed/) n += $(i-1) } END { print n + 0 }' "$out")
if (($# == 0 && rc == 0 && ran != ${#tests[@]})); then
  echo "real-fs: ${ran} of ${#tests[@]} tests passed: a test was renamed or filtered out" >&2
  exit 1
fi
exit "$rc"
