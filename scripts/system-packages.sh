#!/usr/bin/env bash
# Installs the Debian/Ubuntu packages KineDesk needs, if any are missing.
# Usage: scripts/system-packages.sh run|test
#   run:  what the desk window needs at run time (Vulkan/GL loaders, Mesa software drivers, X11/Wayland client libs)
#         plus Xvfb, used when no display is present.
#   test: what the test suite needs (Mesa's lavapipe software Vulkan for the wgpu snapshots; Python with venv for
#         the reference tools installed from PyPI, e.g. pybullet).
# Uses apt-get as root, or through sudo; otherwise prints the command to run and fails.
set -euo pipefail

# Build: pkg-config and libudev-dev (gamepad support through gilrs links libudev); libclang-dev (bindgen generates
# the V4L2 bindings nokhwa uses for cameras).
common=(ca-certificates pkg-config libudev-dev libclang-dev)
run_pkgs=(libvulkan1 mesa-vulkan-drivers libegl1 libegl-mesa0 libgl1-mesa-dri libx11-6 libx11-xcb1 libxcursor1 libxi6
  libxkbcommon0 libxkbcommon-x11-0 libwayland-client0 xvfb xauth imagemagick ffmpeg)
# ffmpeg: MP4 video in LeRobot exports (optional for running the app; the tests export video).
test_pkgs=(libvulkan1 mesa-vulkan-drivers python3 python3-venv ffmpeg)

case "${1:-}" in
  run) wanted=("${common[@]}" "${run_pkgs[@]}") ;;
  test) wanted=("${common[@]}" "${test_pkgs[@]}") ;;
  *) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=()
for pkg in "${wanted[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$pkg")
  fi
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "system packages: all present"
  exit 0
fi

echo "system packages: installing ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  sudo_cmd=()
elif command -v sudo >/dev/null 2>&1; then
  sudo_cmd=(sudo)
else
  echo "Not root and no sudo. Please install these packages, then run this again:" >&2
  echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
