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

# Peer tools from PyPI that the tests compare against (never copied into the repository), in a venv of our own.
venv=target/test-venv
if [ ! -x "$venv/bin/python" ]; then
  mkdir -p target
  python3 -m venv "$venv"
fi
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check -r scripts/test-requirements.txt
export KINEDESK_PYTHON="$PWD/$venv/bin/python"
export KINEDESK_REQUIRE_PYBULLET=1
export KINEDESK_REQUIRE_PYTHON_PEERS=1

export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
export CARGO_INCREMENTAL=0
# winit/wgpu complain when this is unset; the tests need no session bus.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

step() { echo; echo "=== $* ($(date +%H:%M:%S))"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
step "cargo test"
cargo test --workspace --locked
step "done"
