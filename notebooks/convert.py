#!/usr/bin/env python3
"""Writes each notebooks/NN-slug.ipynb from its source notebooks/src/NN-slug.rs.

    python3 notebooks/convert.py           # rewrite every notebooks/NN-slug.ipynb
    python3 notebooks/convert.py --check   # exit 1 if a committed notebook differs from its source

The sources are Rust in jupytext's "percent" format (https://jupytext.readthedocs.io, "The
percent format"), so they read and diff like code and open in any editor:

    // %% [markdown]
    // # 6. The forward process
    //
    // Markdown, one `// ` per line (`//` alone for a blank line).

    // %%
    let schedule = NoiseSchedule::linear(1000).unwrap();   // a code cell, as evcxr runs it

A line `// %%` starts a code cell, `// %% [markdown]` a markdown cell; the file starts with one
of them. Blank lines at the start and end of a cell are dropped (put one blank line between
cells). evcxr commands (`:dep ...`) stay as they are. Notebooks are written with no outputs and
execution_count null (scripts/notebooks.sh rejects committed outputs). Python's standard
library only: no jupytext needed (a reader who has it can pair the files with it, though).
"""
import json
import pathlib
import sys

HERE = pathlib.Path(__file__).resolve().parent
SOURCES = HERE / "src"
CODE, MARKDOWN = "// %%", "// %% [markdown]"


class SourceError(Exception):
    pass


def parse(path):
    """The cells of one percent-format source: a list of (kind, text), kind "code" or "markdown"."""
    cells = []
    for number, line in enumerate(path.read_text().split("\n"), 1):
        where = f"{path.relative_to(HERE.parent)}:{number}"
        if line.rstrip() in (CODE, MARKDOWN):
            cells.append(("markdown" if line.rstrip() == MARKDOWN else "code", [], where))
        elif line.startswith("// %%"):
            raise SourceError(f"{where}: unknown cell marker {line!r} (use `{CODE}` or `{MARKDOWN}`)")
        elif not cells:
            if line.strip():
                raise SourceError(f"{where}: text before the first cell; start the file with "
                                  f"`{CODE}` or `{MARKDOWN}`")
        elif cells[-1][0] == "markdown":
            if line == "//" or line.startswith("// "):
                cells[-1][1].append(line[3:])
            elif line.strip():
                raise SourceError(f"{where}: a markdown line must start with `// ` (or be `//` "
                                  f"for a blank line), found {line!r}")
            else:
                cells[-1][1].append("")
        else:
            cells[-1][1].append(line)
    out = []
    for kind, lines, where in cells:
        while lines and not lines[0].strip():
            lines.pop(0)
        while lines and not lines[-1].strip():
            lines.pop()
        if not lines:
            raise SourceError(f"{where}: empty cell")
        out.append((kind, "\n".join(lines)))
    if not out:
        raise SourceError(f"{path}: no cells")
    return out


def notebook_json(cells):
    out = []
    for kind, text in cells:
        source = text.splitlines(keepends=True)
        if kind == "markdown":
            out.append({"cell_type": "markdown", "metadata": {}, "source": source})
        else:
            out.append({"cell_type": "code", "execution_count": None, "metadata": {},
                        "outputs": [], "source": source})
    nb = {
        "cells": out,
        "metadata": {
            "kernelspec": {"name": "rust", "display_name": "Rust", "language": "rust"},
            "language_info": {"name": "rust", "file_extension": ".rs",
                              "mimetype": "text/rust", "pygment_lexer": "rust"},
        },
        "nbformat": 4,
        "nbformat_minor": 4,
    }
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def main():
    check = "--check" in sys.argv[1:]
    sources = sorted(SOURCES.glob("*.rs"))
    stale, errors = [], []
    for src in sources:
        path = HERE / f"{src.stem}.ipynb"
        try:
            text = notebook_json(parse(src))
        except SourceError as e:
            errors.append(str(e))
            continue
        if check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    orphans = sorted(p.name for p in HERE.glob("*.ipynb") if not (SOURCES / f"{p.stem}.rs").exists())
    if errors:
        sys.exit("\n".join(errors))
    if orphans:
        sys.exit("notebooks without a source in notebooks/src/ (add NN-slug.rs, or delete the "
                 "notebook): " + ", ".join(orphans))
    if stale:
        sys.exit("notebooks differ from their sources in notebooks/src/ (run `python3 "
                 "notebooks/convert.py` and commit the .ipynb files): " + ", ".join(stale))
    if check:
        print(f"notebooks: {len(sources)} .ipynb files match their sources in notebooks/src/")


if __name__ == "__main__":
    main()
