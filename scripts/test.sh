#!/usr/bin/env bash
# One command to run the whole test suite: installs what is missing, then formatting, lints and every test.
# This is exactly what CI runs (.ci/run calls it).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/system-packages.sh test
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs), then run this again." >&2
  exit 1
fi

# Peer tools from PyPI that the tests compare against (never copied into the repository), in venvs of our own under
# target/. They install in the background while cargo compiles (downloads and unpacking against compilation); the
# tests start only once they are in place.
venv=target/test-venv
openpi_venv=target/openpi-venv
lerobot_venv=target/lerobot-venv
find_python312() {
  # 3.12 first: the version the lerobot requirements were checked with.
  for candidate in /root/.pyenv/versions/3.12*/bin/python3 "$HOME"/.pyenv/versions/3.12*/bin/python3 python3.12 \
    /usr/bin/python3.12 /root/.pyenv/versions/3.13*/bin/python3 python3.13 /usr/bin/python3.13; do
    if command -v "$candidate" >/dev/null 2>&1 &&
      "$candidate" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}
install_peers() {
  set -euo pipefail
  mkdir -p target
  [ -x "$venv/bin/python" ] || python3 -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
  # Physical Intelligence's own `openpi-client` (its msgpack_numpy builds the openpi-style servers the closed-loop
  # rollout tests run against). It pins numpy < 2, which the other peers cannot share, so it has a venv of its own.
  [ -x "$openpi_venv/bin/python" ] || python3 -m venv "$openpi_venv"
  "$openpi_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/openpi-requirements.txt
  # The real `lerobot` package (it needs Python >= 3.12 and pulls torch, ~3 GB) loads our LeRobot exports in the
  # tests. The machines this runs on have Python 3.11 as python3 and further CPython versions under pyenv.
  if [ ! -x "$lerobot_venv/bin/python" ] && python312=$(find_python312); then
    "$python312" -m venv "$lerobot_venv"
  fi
  if [ -x "$lerobot_venv/bin/python" ]; then
    "$lerobot_venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/lerobot-requirements.txt
  fi
}
mkdir -p target
peers_log=target/peer-install.log
install_peers >"$peers_log" 2>&1 &
peers_pid=$!
# A failed step ends the script; the installs end with it.
trap 'kill "$peers_pid" 2>/dev/null || true' EXIT

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0
# winit/wgpu complain when this is unset; the tests need no session bus.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

step() { echo; echo "=== $* ($(date +%H:%M:%S))"; }

# Where the peers are, for the tests (once they are installed).
peer_environment() {
  export KINEDESK_PYTHON="$PWD/$venv/bin/python"
  export KINEDESK_REQUIRE_PYBULLET=1
  export KINEDESK_REQUIRE_PYTHON_PEERS=1
  # The native rerun binary (the bin/rerun entry point is a Python wrapper around it).
  rerun_native=$(ls "$venv"/lib/python3*/site-packages/rerun_sdk/rerun_cli/rerun 2>/dev/null | head -n 1 || true)
  export KINEDESK_RERUN="$PWD/${rerun_native:-$venv/bin/rerun}"
  export KINEDESK_REQUIRE_FFMPEG=1
  "$KINEDESK_RERUN" analytics disable >/dev/null 2>&1 || true
  export KINEDESK_OPENPI_PYTHON="$PWD/$openpi_venv/bin/python"
  export KINEDESK_REQUIRE_OPENPI=1
  if [ -x "$lerobot_venv/bin/python" ]; then
    export KINEDESK_LEROBOT_PYTHON="$PWD/$lerobot_venv/bin/python"
    export KINEDESK_REQUIRE_LEROBOT=1
  elif [ -n "${CI:-}" ]; then
    # On CI the real lerobot check is required: without a Python >= 3.12 the tests that need it fail.
    echo "ERROR: no Python >= 3.12 on the CI machine: the real-lerobot checks will fail" >&2
    export KINEDESK_REQUIRE_LEROBOT=1
  else
    echo "WARNING: no Python >= 3.12 on this machine: the tests that load exports with the real lerobot package" \
      "will say SKIPPED" >&2
  fi
}

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test --no-run (while the Python peers install)"
cargo test --workspace --locked --no-run
step "waiting for the Python peers"
if ! wait "$peers_pid"; then
  cat "$peers_log" >&2
  echo "ERROR: installing the Python peer tools failed (log above)" >&2
  exit 1
fi
peer_environment
step "cargo test"
# Every test binary runs even when one fails, so a red run lists all failures at once.
cargo test --workspace --locked --no-fail-fast
step "done"
