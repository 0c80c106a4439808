#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless on the evcxr Rust kernel; fails when a cell
# fails (a compile error, or a panic: `:preserve_vars_on_panic 0` makes panics fatal).
# Installs evcxr_jupyter and a minimal Jupyter (jupyter_core, jupyter_client, nbclient,
# nbconvert, nbformat, in a venv under ~/.cache) when missing.
#
# Committed notebooks carry no outputs (so the check never depends on stale ones, and diffs
# stay readable); executed copies are written to $NOTEBOOK_OUT (default: a temp folder).
#
#   scripts/notebooks.sh [NOTEBOOK...]   run them (default: all)
#   scripts/notebooks.sh --warm-up       only install what is missing and compile the notebooks'
#                                        dependencies (the check runs this in the background
#                                        while the tests build; see scripts/check.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
warm_only=0
if [ "${1:-}" = --warm-up ]; then warm_only=1; shift; fi
# The kernels' cargo builds never lint (the check's clippy-driver wrapper would lint evcxr's
# generated crate) and never use the check's target folder (evcxr sets its own anyway).
unset RUSTC_WORKSPACE_WRAPPER CLIPPY_ARGS

EVCXR_VERSION=0.22.0
if ! command -v evcxr_jupyter >/dev/null 2>&1 || ! cargo install --list | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
    echo "installing evcxr_jupyter $EVCXR_VERSION (one-time, ~11 minutes on 2 cores)"
    # Not in the check's target folder: this may run while the tests build there, and cargo
    # lets one build at a time use a folder.
    env -u CARGO_TARGET_DIR -u CARGO_PROFILE_RELEASE_INCREMENTAL \
        cargo install --locked "evcxr_jupyter@$EVCXR_VERSION"
fi

venv="${DDPM_JUPYTER_VENV:-$HOME/.cache/ddpm-jupyter}"
if [ ! -x "$venv/bin/jupyter-nbconvert" ]; then
    echo "installing a minimal Jupyter into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet jupyter_core jupyter_client nbclient nbconvert nbformat
fi
# The Rust kernel spec goes into a private Jupyter data folder (evcxr_jupyter --install writes
# to $JUPYTER_PATH/kernels/rust when JUPYTER_PATH is set; Jupyter searches JUPYTER_PATH).
export JUPYTER_PATH="${DDPM_JUPYTER_DATA:-$HOME/.cache/ddpm-jupyter-data}"
if [ ! -f "$JUPYTER_PATH/kernels/rust/kernel.json" ]; then
    evcxr_jupyter --install >/dev/null
fi

# The kernel's start-up commands for the check, kept in the repo (scripts/evcxr-check/init.evcxr):
# panics fail the cell. Unlike the readers' notebooks/evcxr-config/init.evcxr it does not turn
# on evcxr's crate cache (`:cache`): the check keeps persistent build folders instead
# (EVCXR_TMPDIR), in which cargo finds ddpm and every dependency already built, so a rerun
# compiles only the cells. The cache does not mix with persistent folders: an entry holds the
# dep-info of the folder that compiled it, with that folder's OUT_DIR paths, so a crate that
# includes a generated file (thiserror, serde_core, ...) and was restored from the cache into
# another folder is stale there on every build: cargo restored it (and rebuilt everything above
# it, ddpm included) in every notebook's first cell. Two kernels restoring from the cache at
# once also race on an entry's hit counter ("Failed to wrap rustc: cannot parse integer from
# empty string"; a notebook failed the check that way).
# The build folders live under /tmp: on the build machine a kernel whose build folder was under
# /root failed to load its cells ("dlopen failed"), under /tmp it works. They do not depend on
# the checkout: a clone at a new path (CI's) finds the dependencies built; only ddpm is
# compiled for it. A lock makes two runs (two checkouts) wait for each other.
# Three lanes run at a time (DDPM_NOTEBOOK_JOBS), each ONE kernel that runs notebook after
# notebook with `:clear` between them (scripts/notebook_lane.py): a fresh kernel spends 15 s
# (math) to 70 s (burn) of one core in evcxr's rust-analyzer before its first result, even
# with everything compiled; a cleared kernel keeps that analysis and starts from a clean
# state (no variables, items or deps; a new process for the cells). All 17 notebooks: 741 s
# with a fresh kernel each, 376 s with one kernel per lane (3 lanes, 2 cores).
# Each lane has its own build folder (a kernel owns its folder while it runs).
export EVCXR_CONFIG_DIR="$root/scripts/evcxr-check"
build_base="${EVCXR_TMPDIR:-${TMPDIR:-/tmp}/ddpm-evcxr-lane}"
exec 9>"$build_base.lock"
if ! flock -n 9; then
    echo "another notebook run holds $build_base.lock; waiting for it"
    flock 9
fi
jobs="${DDPM_NOTEBOOK_JOBS:-3}"

# Committed notebooks must carry no outputs.
[ $warm_only = 1 ] || "$venv/bin/python" - <<'PY'
import json, pathlib, sys
bad = []
for nb in sorted(pathlib.Path("notebooks").glob("*.ipynb")):
    cells = json.loads(nb.read_text())["cells"]
    if any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"):
        bad.append(str(nb))
if bad:
    sys.exit("notebooks committed with outputs (clear them): " + ", ".join(bad))
PY

# The notebooks are written from their sources, notebooks/src/NN-slug.rs, by
# notebooks/convert.py: they must match them.
[ $warm_only = 1 ] || python3 notebooks/convert.py --check

out="${NOTEBOOK_OUT:-$(mktemp -d)}"
start=$(date +%s)
mkdir -p "$out"

# Arguments, if any, pick notebooks (scripts/notebooks.sh notebooks/06-*.ipynb); default: all.
# The queue runs the burn notebooks first, longest first, so the lanes end together.
if [ $# -gt 0 ]; then
    notebooks=("$@")
else
    notebooks=(notebooks/12-*.ipynb notebooks/17-*.ipynb notebooks/13-*.ipynb
               notebooks/14-*.ipynb notebooks/16-*.ipynb notebooks/15-*.ipynb)
    for nb in notebooks/*.ipynb; do
        case " ${notebooks[*]} " in *" $nb "*) ;; *) notebooks+=("$nb") ;; esac
    done
fi
for nb in "${notebooks[@]}"; do
    [ -f "$nb" ] || { echo "no notebook $nb (give paths like notebooks/06-forward-process.ipynb)"; exit 1; }
done
queue="$out/.queue"
printf '%s\n' "${notebooks[@]}" >"$queue"
: >"$out/.failed"

# Runs lane $1's kernel over the queue $2 (scripts/notebook_lane.py: one kernel per lane,
# `:clear` between notebooks, so evcxr's rust-analyzer loads the crates once per lane).
run_lane() { # lane queue
    EVCXR_TMPDIR="$build_base-$1" "$venv/bin/python" scripts/notebook_lane.py "$1" "$2" "$out"
}

# Warm-up. Lanes that compile the same dependencies at the same time compile them three
# times over on two cores. So a lane folder that has not built them for this Cargo.lock,
# toolchain and evcxr yet is not used concurrently: lane 1 first runs, alone, the first cell
# (the `:dep` line) of the first notebook of each kind (math: ddpm without burn; burn), then
# the other lanes start as copies of lane 1's folder (cargo's fingerprints are relative to the
# target folder, so a copy is up to date), with nothing left to compile but the cells.
mkdir -p "$build_base-1"
lock_hash=$( { cat Cargo.lock; rustc -vV; echo "evcxr $EVCXR_VERSION, no :cache"; } | sha256sum | cut -c1-16)
uses_burn() { grep -q 'features = \[\\"burn\\"\]' "$1"; }
for kind in burn math; do
    first=""
    while IFS= read -r nb; do
        if { [ $kind = burn ] && uses_burn "$nb"; } || { [ $kind = math ] && ! uses_burn "$nb"; }; then
            first="$nb"; break
        fi
    done <"$queue"
    [ -n "$first" ] || continue
    if { [ "$jobs" -gt 1 ] || [ $warm_only = 1 ]; } \
        && [ "$(cat "$build_base-1/.warm-$kind" 2>/dev/null)" != "$lock_hash" ]; then
        echo "warming up lane 1: the first cell of $first (builds the $kind dependencies once)"
        warm_nb="$out/warm-up-$kind.ipynb"
        "$venv/bin/python" - "$first" "$warm_nb" <<'PY'
import sys, nbformat
nb = nbformat.read(sys.argv[1], as_version=4)
nb.cells = [next(c for c in nb.cells if c.cell_type == "code")]
nbformat.write(nb, sys.argv[2])
PY
        printf '%s\n' "$warm_nb" >"$queue.warm"
        if run_lane 1 "$queue.warm" && [ ! -s "$out/.failed" ]; then
            echo "$lock_hash" >"$build_base-1/.warm-$kind"
        else
            echo "lane 1's warm-up for the $kind notebooks failed" >>"$out/.failed"
        fi
    fi
done
if [ $warm_only = 1 ]; then
    echo "notebook warm-up: $(( $(date +%s) - start ))s"
    if [ -s "$out/.failed" ]; then echo "failed: $(tr '\n' ' ' <"$out/.failed")"; exit 1; fi
    exit 0
fi
for i in $(seq 2 "$jobs"); do
    if ! cmp -s <(cat "$build_base-1"/.warm-* 2>/dev/null) <(cat "$build_base-$i"/.warm-* 2>/dev/null) \
        || [ ! -d "$build_base-$i" ]; then
        rm -rf "$build_base-$i"
        cp -a "$build_base-1" "$build_base-$i"
    fi
done

pids=()
for i in $(seq 1 "$jobs"); do run_lane "$i" "$queue" & pids+=($!); done
# A lane that stops on its own (not on a failed notebook, which it records and goes on from)
# is a failure too.
for i in "${!pids[@]}"; do
    wait "${pids[$i]}" || echo "lane $((i + 1)) stopped with status $?" >>"$out/.failed"
done
echo "notebooks: $(( $(date +%s) - start ))s in all ($jobs at a time); executed notebooks are in $out"
if [ -s "$out/.failed" ]; then
    echo "failed: $(tr '\n' ' ' <"$out/.failed")"
    exit 1
fi
