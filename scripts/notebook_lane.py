"""One lane of scripts/notebooks.sh: executes notebooks from a shared queue, top to bottom,
with nbclient (what `jupyter nbconvert --execute` uses), in ONE evcxr kernel.

Between two notebooks the kernel runs `:clear`, which drops every variable, item and `:dep`
and restarts the process that runs the cells (so no value or static survives), but keeps
evcxr's rust-analyzer loaded. That analyser is what makes a fresh kernel slow: before its
first result it resolves names through every crate the notebook depends on (measured 15 s
of one core for the math notebooks, 70 s for the burn ones, even with everything compiled).
Each notebook still declares its own `:dep` and runs from its first cell, as a reader's
fresh kernel would; kernel settings (`:preserve_vars_on_panic`, from
scripts/evcxr-check/init.evcxr) carry over, and no notebook changes them.

Usage: notebook_lane.py LANE QUEUE OUT
  LANE   the lane's number (printed)
  QUEUE  a file of notebook paths, one per line, shared by the lanes (popped under a lock)
  OUT    folder for the executed copies; failures are appended to OUT/.failed, and the
         kernel's own output goes to OUT/lane-LANE.log

Prints `ok   PATH (Ns, lane L)` or `FAIL PATH ...` with the failing cell and its output
(rustc's error, or the panic message) without the backtrace noise. The kernel's working
directory is notebooks/, so that `:dep ddpm = { path = ".." }` finds the crate.
"""

import fcntl
import os
import re
import sys
import time

import nbformat
from jupyter_core.utils import run_sync
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, DeadKernelError

NOISE = re.compile(r"^\s+(at |\d+: )|^----- stderr -----$")


def pop(queue):
    """The next notebook of the shared queue, or None when it is empty."""
    with open(queue + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with open(queue) as f:
            lines = [line.rstrip("\n") for line in f if line.strip()]
        if not lines:
            return None
        with open(queue + ".tmp", "w") as f:
            f.writelines(line + "\n" for line in lines[1:])
        os.replace(queue + ".tmp", queue)
        return lines[0]


def show(text):
    for line in re.sub(r"\x1b\[[0-9;]*m", "", text).splitlines():
        if not NOISE.match(line):
            print("    " + line)


def report_failure(path, lane, seconds, failed, why):
    print(f"FAIL {path} ({seconds}s, lane {lane}): {why}")
    if failed is None:
        return
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


def main():
    lane, queue, out = sys.argv[1], sys.argv[2], sys.argv[3]
    # The lane's kernel manager: the first notebook's client starts the kernel, and the
    # clients do not own it, so it outlives each notebook.
    def new_kernel_manager():
        return NotebookClient(nbformat.v4.new_notebook(), kernel_name="rust").create_kernel_manager()

    km = new_kernel_manager()
    log = open(os.path.join(out, f"lane-{lane}.log"), "a")
    try:
        while (path := pop(queue)) is not None:
            start = time.time()
            nb = nbformat.read(path, as_version=4)
            cleared = km.has_kernel  # a kernel that ran a notebook is cleared first
            if cleared:
                nb.cells.insert(0, nbformat.v4.new_code_cell(":clear"))
            client = NotebookClient(nb, km=km, kernel_name="rust", timeout=1800,
                                    resources={"metadata": {"path": "notebooks"}})
            failed, why = None, None
            try:
                # The kernel's own output (evcxr's and burn's log lines) goes to the lane's log.
                client.execute(stdout=log, stderr=log)
            except CellExecutionError:
                ran = [c for c in nb.cells if c.cell_type == "code" and c.get("execution_count")]
                failed = ran[-1] if ran else next((c for c in nb.cells if c.cell_type == "code"), None)
                why = "a cell failed"
            except DeadKernelError as e:
                why = f"the kernel died ({e})"
            except Exception as e:  # a cell timeout, a kernel that would not start, ...
                why = f"{type(e).__name__}: {e}"
            finally:
                if client.kc is not None:
                    client.kc.stop_channels()
            if why is not None:
                # Whatever a failure left behind, the next notebook gets a new kernel.
                if km.has_kernel:
                    run_sync(km.shutdown_kernel)(now=True)
                km = new_kernel_manager()
            if cleared:
                if failed is nb.cells[0]:
                    why = "`:clear` between two notebooks failed"
                nb.cells.pop(0)
            nbformat.write(nb, os.path.join(out, os.path.basename(path)))
            seconds = round(time.time() - start)
            if why is None:
                print(f"ok   {path} ({seconds}s, lane {lane})", flush=True)
            else:
                report_failure(path, lane, seconds, failed, why)
                sys.stdout.flush()
                with open(os.path.join(out, ".failed"), "a") as f:
                    f.write(path + "\n")
    finally:
        # Also when the lane stops on an unexpected error: no kernel is left running.
        if km.has_kernel:
            run_sync(km.shutdown_kernel)(now=True)


if __name__ == "__main__":
    main()
