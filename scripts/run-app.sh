#!/usr/bin/env bash
# One command to run KineDesk on embedded defaults: installs what is missing, builds, and opens the window.
# With no display (no DISPLAY / WAYLAND_DISPLAY) it starts the app under Xvfb for a few seconds and saves a
# screenshot to target/kinedesk-screenshot.png instead, so a headless machine can check it too.
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-packages.sh run
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs), then run this again." >&2
  exit 1
fi
cargo build --release -p kinedesk

if [ -n "${DISPLAY:-}" ] || [ -n "${WAYLAND_DISPLAY:-}" ]; then
  exec target/release/kinedesk "$@"
fi

echo "No display found: running KineDesk under Xvfb and taking a screenshot."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
display=":$((90 + RANDOM % 9))"
Xvfb "$display" -screen 0 1600x1000x24 -nolisten tcp >/dev/null 2>&1 &
xvfb_pid=$!
trap 'kill "$xvfb_pid" 2>/dev/null || true' EXIT
sleep 1
DISPLAY="$display" target/release/kinedesk --state-dir target/kinedesk-xvfb-state "$@" &
app_pid=$!
sleep "${KINEDESK_XVFB_SECONDS:-8}"
DISPLAY="$display" import -window root target/kinedesk-screenshot.png
kill "$app_pid" 2>/dev/null || true
wait "$app_pid" 2>/dev/null || true
echo "Screenshot saved to target/kinedesk-screenshot.png"
