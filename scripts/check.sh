#!/usr/bin/env bash
# The one check command (README: `bash scripts/check.sh`; .ci/run calls it too).
# Installs what it needs when missing, then: format, the notebooks match their sources, lint, every test and doctest (with the
# exercise solutions), proves the exercise grader bites (the stubs score 'not attempted'),
# checks that the book's tables are the output of examples/part1_numbers and part2_numbers,
# re-renders the book's figures and compares bytes, checks the results page against the JSON
# reports, builds the book, and executes the notebooks. CONTRIBUTING.md says what it costs.
#
# Environment: CARGO_TARGET_DIR (default ~/.cache/ddpm-target, outside the clone so reruns
# are incremental); DDPM_SKIP_NOTEBOOKS=1 skips the notebook step (for quick local runs);
# DDPM_CHECK_FEATURES (default `wgpu,vulkan`) is the one backend feature set of every build.
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
# feature combination: the CPU backend plus wgpu and vulkan, whose CPU-vs-GPU agreement tests
# (tests/backends.rs) run on Mesa's lavapipe (Vulkan on the CPU). With `vulkan` compiled in,
# burn compiles every Vulkan kernel to SPIR-V (`--backend wgpu` too), which only Mesa 26's
# lavapipe runs: tests/backends.rs runs inside the root of scripts/lavapipe-root.sh, the one
# program that scripts/lavapipe-run (cargo's runner below) sends there.
features="${DDPM_CHECK_FEATURES-wgpu,vulkan}"
with_solutions="solutions${features:+,$features}"
# The builds with wgpu optimise the GPU-only crates it brings less (scripts/check-profile.toml
# says why); a build without the file would rebuild them, so every one of them passes it.
profile=()
if [[ ",$features," == *,wgpu,* ]]; then profile=(--config scripts/check-profile.toml); fi
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
if [[ ",$features," == *,vulkan,* ]]; then
    # Debian 13 with unstable's Mesa, made once (about a minute; scripts/lavapipe-root.sh).
    bash scripts/lavapipe-root.sh >/dev/null
    host_triple=$(rustc -vV | sed -n 's/^host: //p')
    export "CARGO_TARGET_$(echo "$host_triple" | tr 'a-z-' 'A-Z_')_RUNNER=$PWD/scripts/lavapipe-run"
elif [[ ",$features," == *,wgpu,* ]] && ! ls /usr/share/vulkan/icd.d/lvp_icd*.json >/dev/null 2>&1; then
    echo "installing mesa-vulkan-drivers (lavapipe, Vulkan on the CPU: the wgpu agreement test)"
    sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
    $sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq mesa-vulkan-drivers
fi

# ---------------------------------------------------------------------------------------
notebooks=0
if [ -x scripts/notebooks.sh ] && [ "${DDPM_SKIP_NOTEBOOKS:-0}" != 1 ]; then notebooks=1; fi
if [ $notebooks = 1 ]; then
    # The notebooks' own one-time work (installing evcxr_jupyter, compiling burn inside the
    # kernel's build folder: ~23 minutes on a fresh machine) runs in the background while the
    # tests build and run: cargo's builds leave a core idle for long stretches (one crate at a
    # time on the way up to burn), and the two builds fill each other's gaps. On a machine with
    # all that done it returns at once. Its own process group, so that it can be stopped if the
    # check fails first.
    warm_log=$(mktemp)
    echo "notebooks: installing and compiling for the kernels in the background (log: $warm_log)"
    setsid scripts/notebooks.sh --warm-up >"$warm_log" 2>&1 &
    warm_pid=$!
    trap 'kill -TERM -- -"$warm_pid" 2>/dev/null || true' EXIT
fi

step "format and lint"
cargo fmt --all -- --check
# Each notebook is written from its source notebooks/src/NN-slug.rs (Rust in jupytext's percent
# format) by notebooks/convert.py: a stale .ipynb fails here, even with DDPM_SKIP_NOTEBOOKS=1
# (Python's standard library only; well under a second).
python3 notebooks/convert.py --check
# The math layers (Parts I-II, figures, data) must build without burn: notebooks rely on it.
cargo clippy --release --no-default-features --lib -- -D warnings
# Every other lint runs inside the release builds below: clippy-driver as cargo's
# RUSTC_WORKSPACE_WRAPPER is a rustc that lints this crate's targets and then compiles them, so
# a lint (-D warnings, passed the way `cargo clippy` passes it) fails the build. Dependencies
# are compiled by plain rustc into the same artifacts as without the wrapper. This is the lint
# of `cargo clippy --release --all-targets --features solutions,wgpu -- -D warnings` (`cargo
# test` builds the lib, its tests, the binary, every test file and example) plus the lib
# without the solutions (the grader's build), without a separate check-mode compile of burn
# and wgpu: on a fresh machine that compile took 352 s of the check (cc55b9c).
clippy_driver=$(rustup which clippy-driver 2>/dev/null || command -v clippy-driver)
export RUSTC_WORKSPACE_WRAPPER="$clippy_driver" CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"

# ---------------------------------------------------------------------------------------
step "tests and doctests (with exercise solutions; clippy lints every target it compiles)"
# cubecl (burn's GPU compiler) keeps its autotune results in ./target/environment of the
# working directory; keep them beside the build so that a fresh clone does not re-tune (the
# wgpu agreement test: 78 s with a fresh folder, 23 s with a warm one, on lavapipe).
if [ ! -e target/environment ]; then
    mkdir -p target "$CARGO_TARGET_DIR/cubecl-environment"
    ln -s "$CARGO_TARGET_DIR/cubecl-environment" target/environment
fi
cargo test "${profile[@]}" --release --features "$with_solutions"

# ---------------------------------------------------------------------------------------
step "the exercise grader bites: on the unsolved stubs every exercise is 'not attempted'"
# scripts/grade.sh, as instructors and students run it, on this checkout's stubs: it builds
# each chapter's grader (tests/exercises_chNN.rs with src/exercises/chNN.rs, never the
# solutions; linted like the rest, see above) and scores each exercise. On the stubs every
# exercise must be "not attempted" (its todo!() panics): none may pass (a grader that does not
# bite), fail for another reason, or not compile. Cost: the library once more without the
# `solutions` feature (it no longer changes the library, but it is part of cargo's key) plus
# 15 test binaries, as the step it replaces; then 15 short cargo runs.
grade_csv=$(mktemp)
DDPM_GRADE_CARGO_ARGS="${profile[*]}" scripts/grade.sh --features "$features" --csv "$grade_csv" --name stubs >/dev/null
expected=$(grep -ohE 'fn exercise_[0-9]+_[0-9]+_' tests/exercises_ch*.rs | sort -u | wc -l)
graded=$(tail -n +2 "$grade_csv" | wc -l)
if [ "$graded" -ne "$expected" ] || tail -n +2 "$grade_csv" | grep -v ',not attempted,'; then
    cat "$grade_csv"
    echo "expected $expected exercises, every one 'not attempted' on the stubs (rows above)"; exit 1
fi
echo "$graded exercises in $(ls tests/exercises_ch*.rs | wc -l) chapters: every one 'not attempted' on the stubs"
rm -f "$grade_csv"

# ---------------------------------------------------------------------------------------
step "the book's numbers are the examples' output"
# examples/part1_numbers and part2_numbers print every number chapters 2-5 and 6-10 quote (no
# burn; about 30 s of sampling in all); their output is saved in chapters/output/, and every
# line of it that starts with `|` is a table row exactly as a chapter shows it. So a table
# cannot drift from the code: a changed number fails the comparison, a hand-edited row is not
# found in any chapter.
numbers_tmp=$(mktemp)
for part in 1 2; do
    cargo run "${profile[@]}" --release --features "$with_solutions" --quiet --example "part${part}_numbers" >"$numbers_tmp"
    saved="chapters/output/part${part}-numbers.txt"
    if ! cmp -s "$numbers_tmp" "$saved"; then
        diff "$saved" "$numbers_tmp" || true
        echo "examples/part${part}_numbers prints something else than $saved: run"
        echo "  cargo run --release --no-default-features --example part${part}_numbers > $saved"
        echo "and update the chapters' tables to match"
        exit 1
    fi
    missing=0
    while IFS= read -r row; do
        if ! grep -qF -- "$row" chapters/*.md; then echo "no chapter shows this row of $saved: $row"; missing=1; fi
    done < <(grep '^|' "$numbers_tmp")
    if [ $missing = 1 ]; then exit 1; fi
    echo "part${part}_numbers: output as saved; its $(grep -c '^|' "$numbers_tmp") table rows are in the chapters"
done
rm -f "$numbers_tmp"

# ---------------------------------------------------------------------------------------
step "book figures are reproducible"
fig_tmp=$(mktemp -d)
cargo run "${profile[@]}" --release --features "$with_solutions" --quiet -- book-figures --out "$fig_tmp"
for f in "$fig_tmp"/*; do
    [ -e "$f" ] || continue
    name=$(basename "$f")
    if ! cmp -s "$f" "chapters/figures/$name"; then
        echo "chapters/figures/$name differs from what the code draws: run"
        echo "  cargo run --release -- book-figures --out chapters/figures   and commit the result"
        exit 1
    fi
done
echo "$(ls "$fig_tmp" | wc -l) figures match chapters/figures/"
rm -rf "$fig_tmp"

# ---------------------------------------------------------------------------------------
step "the results page and README's results table are what the reports give"
# chapters/results.md (the book's appendix) and README's results table are written from
# chapters/output/*.json by examples/results_page.rs, which needs no burn (`cargo run --release
# --no-default-features --example results_page` writes them without building burn). Here it
# runs with the check's features instead: `cargo test` above already compiled the example that
# way, so this step reuses that build rather than compiling the library a second time without
# burn.
cargo run "${profile[@]}" --release --features "$with_solutions" --quiet --example results_page -- --check

# ---------------------------------------------------------------------------------------
step "book"
# mdbook-katex 0.10.0 was built against mdbook 0.5.3 and says so on every run; hide that line.
book_log=$(mktemp)
if ! mdbook build >"$book_log" 2>&1; then cat "$book_log"; exit 1; fi
grep -v 'was built against mdbook' "$book_log" || true
rm -f "$book_log"
test -f book/index.html

# ---------------------------------------------------------------------------------------
if [ $notebooks = 1 ]; then
    step "notebooks"
    warm_status=0
    wait "$warm_pid" || warm_status=$?
    cat "$warm_log"
    if [ $warm_status != 0 ]; then echo "the notebooks' warm-up failed (status $warm_status)"; exit 1; fi
    step "notebooks: executing them"
    scripts/notebooks.sh
fi

step "all checks passed"
