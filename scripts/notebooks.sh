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
if ! command -v evcxr_jupyter >/dev/null 2>&1 || ! evcxr_jupyter --version 2>/dev/null | grep -q "$EVCXR_VERSION"; then
    echo "installing evcxr_jupyter $EVCXR_VERSION (one-time, ~15 minutes on 2 cores)"
    cargo install --locked "evcxr_jupyter@$EVCXR_VERSION"
fi

venv="${DDPM_JUPYTER_VENV:-$HOME/.cache/ddpm-jupyter}"
if [ ! -x "$venv/bin/jupyter-nbconvert" ]; then
    echo "installing a minimal Jupyter into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet jupyter_core jupyter_client nbclient nbconvert nbformat
fi
export JUPYTER_DATA_DIR="$HOME/.cache/ddpm-jupyter-data"
if [ ! -f "$JUPYTER_DATA_DIR/kernels/rust/kernel.json" ]; then
    JUPYTER_DATA_DIR="$JUPYTER_DATA_DIR" PATH="$venv/bin:$PATH" evcxr_jupyter --install >/dev/null
fi

# The kernel's start-up commands, kept in the repo (notebooks/init.evcxr): panics fail the
# cell, and compiled crates are cached between runs.
export EVCXR_CONFIG_DIR="$root/notebooks/evcxr-config"

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
mkdir -p "$out"
status=0
for nb in notebooks/*.ipynb; do
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
echo "executed notebooks are in $out"
exit $status
