#!/usr/bin/env bash
# Measures the check command on a simulated fresh machine: an empty HOME (no ~/.cache: no
# cargo target dir, no evcxr compile cache, no Jupyter venv), an empty CARGO_HOME (no crates
# downloaded, no mdbook / mdbook-katex / evcxr_jupyter installed) and a clone of this
# repository's HEAD at a new path (no cubecl autotune cache) and empty notebook build folders
# under $FRESH_DIR (scripts/notebooks.sh otherwise reuses /tmp/ddpm-evcxr-lane-N, which every
# checkout shares, and would find burn already built in them). What a
# fresh machine would also have is kept: the rustup toolchain (RUSTUP_HOME), Python and the apt
# packages. Everything is downloaded and compiled again, so this takes over an hour on 2 cores
# and needs about 15 GB of disk under $FRESH_DIR.
#
#   bash scripts/fresh_check.sh            # FRESH_DIR defaults to /tmp/ddpm-fresh (wiped first)
#
# Prints the check's own step times and, at the end, the total in seconds.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
F="${FRESH_DIR:-/tmp/ddpm-fresh}"
rustup_home="${RUSTUP_HOME:-$HOME/.rustup}"
proxies="$(dirname "$(command -v cargo)")"
[ -x "$proxies/rustup" ] || { echo "cargo is not a rustup proxy ($proxies): install Rust with rustup"; exit 1; }
rm -rf "$F"
mkdir -p "$F/home" "$F/cargo/bin" "$F/bin"
# Only rustup's proxies, not the tools cargo install put beside them.
for b in cargo rustc rustdoc rustfmt cargo-fmt cargo-clippy clippy-driver rustup; do
    ln -s "$proxies/$b" "$F/bin/$b"
done
git clone -q "$repo" "$F/clone"
cd "$F/clone"
git log -1 --oneline
unset CARGO_TARGET_DIR CARGO_PROFILE_RELEASE_INCREMENTAL EVCXR_TMPDIR JUPYTER_PATH \
    DDPM_JUPYTER_VENV DDPM_JUPYTER_DATA
export HOME="$F/home" CARGO_HOME="$F/cargo" RUSTUP_HOME="$rustup_home"
export EVCXR_TMPDIR="$F/evcxr-lane"  # under /tmp by default: kernels fail to dlopen under /root
path="$F/cargo/bin:$F/bin"
# Keep every other PATH entry (python, system tools) except the one that holds the proxies.
IFS=: read -ra entries <<<"$PATH"
for e in "${entries[@]}"; do [ "$e" = "$proxies" ] || path="$path:$e"; done
export PATH="$path"
for tool in mdbook mdbook-katex evcxr_jupyter; do
    if command -v "$tool" >/dev/null; then echo "$tool is still on PATH ($(command -v "$tool")): not fresh"; exit 1; fi
done
start=$(date +%s)
CI=true bash .ci/run
echo "fresh check: $(( $(date +%s) - start )) s"
