#!/usr/bin/env bash
# Install what building and testing Outpost needs on Debian 12: system
# packages (as root, apt-get) and the Rust toolchain's components. Safe to
# run again: it installs only what is missing.
set -euo pipefail

packages=(build-essential pkg-config curl file ca-certificates)
# End-to-end, keyring and PostgreSQL packages are added by the parts that
# need them (scripts/pg-test-env.sh, the app's e2e script).
if [[ "${OUTPOST_SETUP_EXTRA:-}" != "" ]]; then
  read -r -a extra <<<"$OUTPOST_SETUP_EXTRA"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  echo "setup: installing ${missing[*]}" >&2
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found. Install Rust (rustup) first: Outpost builds with stable Rust 1.85 or newer." >&2
  exit 1
fi
rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true
