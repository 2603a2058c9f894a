#!/usr/bin/env bash
# Install what building and testing Outpost needs on Debian 12: system
# packages (as root, apt-get) and the Rust toolchain's components. Safe to
# run again: it installs only what is missing.
set -euo pipefail

packages=(build-essential pkg-config curl file ca-certificates
  # The desktop app (Tauri 2 on WebKitGTK); the workspace builds it.
  libwebkit2gtk-4.1-dev libsoup-3.0-dev libayatana-appindicator3-dev librsvg2-dev libxdo-dev libssl-dev)
# End-to-end, keyring and PostgreSQL packages are added by the parts that
# need them (OUTPOST_SETUP_EXTRA, scripts/pg-test-env.sh).
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
  echo "setup: cargo not found. Install Rust (rustup) first: Outpost builds with stable Rust 1.88 or newer." >&2
  exit 1
fi
# The UI builds with Node.js 20 or newer and npm; Debian's own nodejs is
# older, so a machine without node gets it from Debian only as a last resort.
if ! command -v npm >/dev/null; then
  echo "setup: npm not found; installing Debian's nodejs and npm (the UI needs Node.js 20 or newer)" >&2
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null
fi

rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy rustfmt 2>/dev/null || true
