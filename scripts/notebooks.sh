#!/usr/bin/env bash
# Executes every notebook in notebooks/ headless on the evcxr Rust kernel; fails when a cell
# fails (a compile error, or a panic: `:preserve_vars_on_panic 0` makes panics fatal).
# Installs evcxr_jupyter and a minimal Jupyter (jupyter_core, jupyter_client, nbclient,
# nbconvert, nbformat, in a venv under ~/.cache) when missing.
#
# Committed notebooks carry no outputs (so the check never depends on stale ones, and diffs
# stay readable); executed copies are written to $NOTEBOOK_OUT (default: a temp folder).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

EVCXR_VERSION=0.22.0
if ! command -v evcxr_jupyter >/dev/null 2>&1 || ! cargo install --list | grep -q "^evcxr_jupyter v$EVCXR_VERSION:"; then
    echo "installing evcxr_jupyter $EVCXR_VERSION (one-time, ~15 minutes on 2 cores)"
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

# The kernel's start-up commands, kept in the repo (notebooks/evcxr-config/init.evcxr): panics
# fail the cell, and compiled registry crates are cached between runs (`:cache`, in
# ~/.cache/evcxr). `:cache` skips local crates such as ddpm itself, so the kernels also keep
# persistent build folders (EVCXR_TMPDIR): cargo then finds ddpm already built and only the
# cells are compiled on a rerun. They live under /tmp: on the build machine a kernel whose
# build folder was under /root failed to load its cells ("dlopen failed"), under /tmp it works.
# Folders are per checkout, so that two checkouts can run their notebooks at the same time.
# Three kernels run at a time (DDPM_NOTEBOOK_JOBS): much of a notebook's time is evcxr's
# single-threaded work (its rust-analyzer infers the variables' types through burn: ~60 s of
# one core per burn notebook even when everything is compiled), so three lanes keep both
# cores busy.
# Each lane has its own build folder (a kernel owns its folder while it runs).
export EVCXR_CONFIG_DIR="$root/notebooks/evcxr-config"
build_base="${EVCXR_TMPDIR:-${TMPDIR:-/tmp}/ddpm-evcxr-build-$(printf %s "$root" | sha256sum | cut -c1-12)}"
jobs="${DDPM_NOTEBOOK_JOBS:-3}"

# Committed notebooks must carry no outputs.
"$venv/bin/python" - <<'PY'
import json, pathlib, sys
bad = []
for nb in sorted(pathlib.Path("notebooks").glob("*.ipynb")):
    cells = json.loads(nb.read_text())["cells"]
    if any(c.get("outputs") or c.get("execution_count") for c in cells if c["cell_type"] == "code"):
        bad.append(str(nb))
if bad:
    sys.exit("notebooks committed with outputs (clear them): " + ", ".join(bad))
PY

# The notebooks are written by notebooks/generate.py (the source of truth): they must match it.
python3 notebooks/generate.py --check

out="${NOTEBOOK_OUT:-$(mktemp -d)}"
start=$(date +%s)
mkdir -p "$out"

# Executes one notebook top to bottom with nbclient (what `jupyter nbconvert --execute` uses),
# in notebooks/ so that `:dep ddpm = { path = ".." }` finds the crate. Writes the executed copy
# (also when a cell fails, up to that cell) and, on failure, prints the failing cell and its
# output (rustc's error, or the panic message) without the backtrace noise.
run_one() {
    "$venv/bin/python" - "$1" "$2" <<'PY'
import re, sys
import nbformat
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

src, dst = sys.argv[1], sys.argv[2]
nb = nbformat.read(src, as_version=4)
client = NotebookClient(nb, kernel_name="rust", timeout=1800,
                        resources={"metadata": {"path": "notebooks"}})
try:
    client.execute()
    failed = None
except CellExecutionError:
    ran = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
    failed = ran[-1] if ran else None
    if failed is None:
        failed = next((c for c in nb.cells if c.cell_type == "code"), None)
nbformat.write(nb, dst)
if failed is None:
    sys.exit(0)
noise = re.compile(r"^\s+(at |\d+: )|^----- stderr -----$")
def show(text):
    for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
        if not noise.match(line):
            print("    " + line)
print("  failing cell:")
show(failed.source)
print("  its output:")
for o in failed.get("outputs", []):
    if o.output_type == "stream":
        show(o.text)
    elif o.output_type == "error":
        show(f"{o.ename}: {o.evalue}")
        show("\n".join(o.traceback))
    elif "text/plain" in o.get("data", {}):
        show(o.data["text/plain"])
sys.exit(1)
PY
}

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
queue="$out/.queue"
printf '%s\n' "${notebooks[@]}" >"$queue"
: >"$out/.failed"

# Runs one notebook in lane $1's build folder and reports it.
run_in_lane() { # lane notebook
    local t0 name
    t0=$(date +%s)
    name=$(basename "$2" .ipynb)
    if EVCXR_TMPDIR="$build_base-$1" run_one "$2" "$out/$name.ipynb" >"$out/$name.log" 2>&1; then
        echo "ok   $2 ($(( $(date +%s) - t0 ))s, lane $1)"
    else
        echo "FAIL $2 ($(( $(date +%s) - t0 ))s, lane $1)"
        head -60 "$out/$name.log"
        echo "$2" >>"$out/.failed"
    fi
}

# Warm-up. Kernels that compile registry crates at the same time race on evcxr's crate cache
# (one copies an entry while another rewrites it: "Compilation failed, but no parsable errors
# were found"). So a lane folder that has not built this Cargo.lock's dependencies yet is not
# used concurrently: lane 1 first runs one notebook of each kind alone (math: ddpm without
# burn; burn), then the other lanes start as copies of lane 1's folder, with nothing left to
# compile but the cells.
mkdir -p "$build_base-1"
lock_hash=$(sha256sum Cargo.lock | cut -c1-16)
uses_burn() { grep -q 'features = \[\\"burn\\"\]' "$1"; }
for kind in burn math; do
    first=""
    while IFS= read -r nb; do
        if { [ $kind = burn ] && uses_burn "$nb"; } || { [ $kind = math ] && ! uses_burn "$nb"; }; then
            first="$nb"; break
        fi
    done <"$queue"
    [ -n "$first" ] || continue
    if [ "$jobs" -gt 1 ] && [ "$(cat "$build_base-1/.warm-$kind" 2>/dev/null)" != "$lock_hash" ]; then
        echo "warming up lane 1 with $first (builds the $kind dependencies once)"
        run_in_lane 1 "$first"
        echo "$lock_hash" >"$build_base-1/.warm-$kind"
        grep -vxF "$first" "$queue" >"$queue.tmp" || true
        mv "$queue.tmp" "$queue"
    fi
done
for i in $(seq 2 "$jobs"); do
    if ! cmp -s <(cat "$build_base-1"/.warm-* 2>/dev/null) <(cat "$build_base-$i"/.warm-* 2>/dev/null) \
        || [ ! -d "$build_base-$i" ]; then
        rm -rf "$build_base-$i"
        cp -a "$build_base-1" "$build_base-$i"
    fi
done

# Prints the next notebook and removes it from the queue; nothing when the queue is empty.
next_notebook() {
    (
        flock 9
        IFS= read -r nb <"$queue" || exit 0
        grep -vxF "$nb" "$queue" >"$queue.tmp" || true
        mv "$queue.tmp" "$queue"
        echo "$nb"
    ) 9>"$queue.lock"
}

lane() { # number
    while nb=$(next_notebook) && [ -n "$nb" ]; do
        run_in_lane "$1" "$nb"
    done
}

for i in $(seq 1 "$jobs"); do lane "$i" & done
wait
echo "notebooks: $(( $(date +%s) - start ))s in all ($jobs at a time); executed notebooks are in $out"
if [ -s "$out/.failed" ]; then
    echo "failed: $(tr '\n' ' ' <"$out/.failed")"
    exit 1
fi
