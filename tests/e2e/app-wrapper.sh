#!/usr/bin/env bash
# The app as tauri-driver starts it for the screenshots and benchmarks:
# each --e2e-env=NAME=VALUE argument becomes an environment variable (its
# own data directory, theme storage...), then the real binary ($E2E_APP)
# replaces this script (same process, so its start time and memory are the
# app's own). tauri-driver has no capability for the environment.
set -euo pipefail
rest=()
for a in "$@"; do
  case "$a" in
    --e2e-env=*)
      kv=${a#--e2e-env=}
      export "${kv%%=*}=${kv#*=}"
      ;;
    *) rest+=("$a") ;;
  esac
done
exec "$E2E_APP" "${rest[@]}"
