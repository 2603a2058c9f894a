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
  echo "setup: cargo not found. Install Rust with rustup first: rust-toolchain.toml pins the version (rustup installs it on first use)." >&2
  exit 1
fi
# The toolchain rust-toolchain.toml names, with clippy and rustfmt: rustup
# reads the file and installs what is missing (this needs the network only
# the first time).
if ! rustup show active-toolchain >/dev/null 2>&1; then
  echo "setup: rustup cannot provide the toolchain rust-toolchain.toml pins; run 'rustup show' to see why" >&2
  exit 1
fi
for c in clippy rustfmt; do
  rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
done

# The UI and the end-to-end tests need Node.js 20 or newer with npm.
# Debian 12's own nodejs is 18, too old: install Node.js 20+ yourself
# (nodejs.org, NodeSource, nvm) rather than falling back on it.
node_major=0
if command -v node >/dev/null; then
  node_major=$(node --version | sed -n 's/^v\([0-9][0-9]*\)\..*/\1/p')
fi
if ((${node_major:-0} < 20)); then
  if command -v node >/dev/null; then
    echo "setup: Node.js $(node --version) is too old: the UI needs Node.js 20 or newer (Debian 12's nodejs is 18)." >&2
  else
    echo "setup: node not found: the UI needs Node.js 20 or newer with npm (Debian 12's nodejs is 18, too old)." >&2
  fi
  echo "setup: install Node.js 20+ (nodejs.org, NodeSource or nvm) and put it first on the PATH." >&2
  exit 1
fi
if ! command -v npm >/dev/null; then
  echo "setup: npm not found beside Node.js $(node --version); install the npm that comes with it." >&2
  exit 1
fi
