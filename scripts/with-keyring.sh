#!/usr/bin/env bash
# Run a command inside a private D-Bus session with an unlocked
# gnome-keyring (Secret Service), as a desktop session would have: the way
# the OS-keyring tests run on a headless machine. Installs dbus and
# gnome-keyring if missing. Usage: scripts/with-keyring.sh CMD [ARGS...]
# Fails (exit 1, before CMD runs) when the keyring daemon does not start:
# `scripts/with-keyring.sh true` checks that a keyring can be had here.
set -euo pipefail

need=()
for p in dbus dbus-bin dbus-user-session gnome-keyring; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || need+=("$p")
done
if ((${#need[@]})); then
  sudo_cmd=()
  if [[ $(id -u) -ne 0 ]]; then sudo_cmd=(sudo); fi
  "${sudo_cmd[@]}" apt-get update -qq
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

scratch=$(mktemp -d)
export XDG_DATA_HOME="$scratch/data" XDG_RUNTIME_DIR="$scratch/run"
mkdir -p "$XDG_DATA_HOME" "$XDG_RUNTIME_DIR"
chmod 700 "$XDG_RUNTIME_DIR"

# A keyring daemon that the session bus started on demand (D-Bus activation)
# outlives the bus, and holds the caller's stdout and stderr open: a caller
# reading them through a pipe (`$(...)`, `| tee`) would then wait forever.
# Every daemon of this session carries its XDG_RUNTIME_DIR: end them all.
end_session_daemons() {
  local pid
  for pid in $(pgrep -x gnome-keyring-d 2>/dev/null || true); do
    if tr '\0' '\n' <"/proc/$pid/environ" 2>/dev/null | grep -qxF "XDG_RUNTIME_DIR=$XDG_RUNTIME_DIR"; then
      kill "$pid" 2>/dev/null || true
    fi
  done
}
trap 'end_session_daemons; rm -rf "$scratch"' EXIT

# shellcheck disable=SC2016
dbus-run-session -- bash -c '
  eval "$(printf "throwaway\n" | gnome-keyring-daemon --unlock --components=secrets --daemonize)"
  # The Secret Service must answer on this bus before CMD runs.
  if ! dbus-send --session --print-reply=literal --dest=org.freedesktop.secrets /org/freedesktop/secrets \
    org.freedesktop.DBus.Properties.Get string:org.freedesktop.Secret.Service string:Collections >/dev/null; then
    echo "with-keyring: no Secret Service answers on the private D-Bus session (gnome-keyring-daemon did not start)" >&2
    exit 1
  fi
  export GNOME_KEYRING_CONTROL
  "$@"
' bash "$@"
