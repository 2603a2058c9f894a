#!/usr/bin/env bash
# The disk-full and read-only tests on real file systems
# (crates/core/tests/io_faults.rs, the ignored `really` tests): a 4 MiB
# tmpfs that fills up, and a read-only bind mount. They mount, so they run
# as root in a private mount namespace (nothing leaks to the host's mounts).
# Where mounting is not allowed (an unprivileged container), says SKIPPED
# and exits 0; any other failure fails.
set -euo pipefail
cd "$(dirname "$0")/../.."

probe=$(mktemp -d)
if ! unshare --mount --propagation private mount -t tmpfs -o size=1m tmpfs "$probe" 2>/dev/null; then
  rmdir "$probe"
  echo "real-fs: SKIPPED: cannot mount here (needs root and CAP_SYS_ADMIN); the fault-VFS tests cover the same paths" >&2
  exit 0
fi
rmdir "$probe"
exec unshare --mount --propagation private \
  cargo test -p outpost-core --locked --test io_faults -- --ignored really "$@"
