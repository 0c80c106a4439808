#!/usr/bin/env bash
# The one check command (README: `bash scripts/check.sh`; .ci/run calls it too).
# Installs what it needs when missing, then: format, lint, every test and doctest (with the
# exercise solutions), proves the exercise grader bites (stubs fail), re-renders the book's
# figures and compares bytes, builds the book, and executes the notebooks.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/ddpm-target, outside the clone so reruns
# are incremental); DDPM_SKIP_NOTEBOOKS=1 skips the notebook step (for quick local runs);
# DDPM_CHECK_FEATURES (default `wgpu`) is the one backend feature set of every build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ddpm-target}"
export CARGO_TERM_COLOR=never
# Incremental compilation for the check's release builds (the `release` profile users build
# with is unchanged). A clean clone gives every source file a new mtime, so cargo recompiles
# ddpm and its ~40 test binaries on every CI run; with the incremental cache in the target
# dir they reuse what did not change: `cargo test --release --no-run` after touching every
# source file took 148 s without it and 66 s with it (2 cores). The cache is keyed by the
# clone's path, so a clone at a new path compiles as before.
export CARGO_PROFILE_RELEASE_INCREMENTAL="${CARGO_PROFILE_RELEASE_INCREMENTAL:-true}"
start=$(date +%s)
# Every build with burn uses one feature set, so burn is compiled once rather than once per
# feature combination: the CPU backend plus wgpu, whose CPU-vs-wgpu agreement test
# (tests/backends.rs) runs on Mesa's lavapipe (Vulkan on the CPU).
features="${DDPM_CHECK_FEATURES-wgpu}"
with_solutions="solutions${features:+,$features}"
# Mesa's Vulkan loader complains on every device start when this is unset (harmless).
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
step() { printf '\n==> [%4ds] %s\n' "$(( $(date +%s) - start ))" "$*"; }

# ---------------------------------------------------------------------------------------
step "tools"
need_cargo_tool() { # binary crate version
    if ! command -v "$1" >/dev/null 2>&1 || ! "$1" --version 2>/dev/null | grep -q "$3"; then
        echo "installing $2 $3 (one-time, a few minutes)"
        cargo install --locked "$2@$3"
    fi
}
need_cargo_tool mdbook mdbook 0.5.4
need_cargo_tool mdbook-katex mdbook-katex 0.10.0
# rust-src: evcxr's rust-analyzer reads the standard library's source to infer types in cells.
rustup component add rustfmt clippy rust-src >/dev/null 2>&1 || true
if [[ ",$features," == *,wgpu,* ]] && ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "installing mesa-vulkan-drivers (lavapipe, Vulkan on the CPU: the wgpu agreement test)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers
fi

# ---------------------------------------------------------------------------------------
step "format and lint"
cargo fmt --all -- --check
cargo clippy --release --all-targets --features "$with_solutions" -- -D warnings
# Without the solutions only src/exercises changes (the stubs students start from), so the
# library is linted again, not the ~40 test, example and binary targets.
cargo clippy --release --lib --features "$features" -- -D warnings
# The math layers (Parts I-II, figures, data) must build without burn: notebooks rely on it.
cargo clippy --release --no-default-features --lib -- -D warnings

# ---------------------------------------------------------------------------------------
step "tests and doctests (with exercise solutions)"
# cubecl (burn's GPU compiler) keeps its autotune results in ./target/environment of the
# working directory; keep them beside the build so that a fresh clone does not re-tune (the
# wgpu agreement test: 78 s with a fresh folder, 23 s with a warm one, on lavapipe).
if [ ! -e target/environment ]; then
    mkdir -p target "$CARGO_TARGET_DIR/cubecl-environment"
    ln -s "$CARGO_TARGET_DIR/cubecl-environment" target/environment
fi
cargo test --release --features "$with_solutions"

# ---------------------------------------------------------------------------------------
step "the exercise grader bites: without solutions every exercise test must fail"
if ls tests/exercises_ch*.rs >/dev/null 2>&1; then
    log=$(mktemp)
    cargo test --release --features "$features" --no-fail-fast --test 'exercises_ch*' >"$log" 2>&1 || true
    # Each exercise test file prints one "test result:" line; all must report 0 passed.
    results=$(grep -E '^test result:' "$log" || true)
    files=$(ls tests/exercises_ch*.rs | wc -l)
    if [ "$(grep -c . <<<"$results")" -ne "$files" ]; then
        cat "$log"; echo "expected $files exercise test results"; exit 1
    fi
    if grep -Ev '^test result: FAILED\. 0 passed;' <<<"$results"; then
        cat "$log"; echo "some exercise test passes on the unsolved stubs: the grader does not bite"; exit 1
    fi
    echo "$files exercise files, every test fails on the stubs: $(grep -Eo '[0-9]+ failed' <<<"$results" | awk '{s+=$1} END {print s}') failures"
    rm -f "$log"
fi

# ---------------------------------------------------------------------------------------
step "book figures are reproducible"
fig_tmp=$(mktemp -d)
cargo run --release --features "$with_solutions" --quiet -- book-figures --out "$fig_tmp"
for f in "$fig_tmp"/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    if ! cmp -s "$f" "chapters/figures/$name"; then
        echo "chapters/figures/$name differs from what the code draws: run"
        echo "  cargo run --release -- book-figures   and commit the result"
        exit 1
    fi
done
echo "$(ls "$fig_tmp" | wc -l) figures match chapters/figures/"
rm -rf "$fig_tmp"

# ---------------------------------------------------------------------------------------
step "book"
# mdbook-katex 0.10.0 was built against mdbook 0.5.3 and says so on every run; hide that line.
book_log=$(mktemp)
if ! mdbook build >"$book_log" 2>&1; then cat "$book_log"; exit 1; fi
grep -v 'was built against mdbook' "$book_log" || true
rm -f "$book_log"
test -f book/index.html

# ---------------------------------------------------------------------------------------
if [ -x scripts/notebooks.sh ] && [ "${DDPM_SKIP_NOTEBOOKS:-0}" != 1 ]; then
    step "notebooks"
    scripts/notebooks.sh
fi

step "all checks passed"
