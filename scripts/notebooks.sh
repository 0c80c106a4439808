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
# ~/.cache/evcxr). `:cache` skips local crates such as ddpm itself, so the kernels also share
# one persistent build folder (EVCXR_TMPDIR): cargo then finds ddpm already built and only
# the cells are compiled on a rerun.
export EVCXR_CONFIG_DIR="$root/notebooks/evcxr-config"
export EVCXR_TMPDIR="${EVCXR_TMPDIR:-$HOME/.cache/ddpm-evcxr-build}"
mkdir -p "$EVCXR_TMPDIR"

# The notebooks are written by notebooks/generate.py (the source of truth): they must match it.
python3 notebooks/generate.py --check

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

out="${NOTEBOOK_OUT:-$(mktemp -d)}"
start=$(date +%s)
mkdir -p "$out"
status=0
# Arguments, if any, pick notebooks (scripts/notebooks.sh notebooks/06-*.ipynb); default: all.
if [ $# -gt 0 ]; then notebooks=("$@"); else notebooks=(notebooks/*.ipynb); fi
for nb in "${notebooks[@]}"; do
    [ -e "$nb" ] || continue
    t0=$(date +%s)
    if "$venv/bin/jupyter-nbconvert" --to notebook --execute \
        --ExecutePreprocessor.kernel_name=rust --ExecutePreprocessor.timeout=1800 \
        --output-dir "$out" "$nb" >"$out/$(basename "$nb" .ipynb).log" 2>&1; then
        echo "ok   $nb ($(( $(date +%s) - t0 ))s)"
    else
        echo "FAIL $nb ($(( $(date +%s) - t0 ))s)"; tail -40 "$out/$(basename "$nb" .ipynb).log"
        status=1
    fi
done
echo "notebooks: $(( $(date +%s) - start ))s in all; executed notebooks are in $out"
exit $status
