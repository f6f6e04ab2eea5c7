"""Write the teaching notebooks (``notebooks/*.ipynb``) without outputs.

The cells of every notebook are kept here, as text, so that notebooks are
reviewed as code and stored without outputs: edit this file, then run

    python notebooks/build_notebooks.py           # rewrite the notebooks
    python notebooks/build_notebooks.py --check   # exit 1 if they differ from this file

``tests/test_notebooks.py`` executes every notebook (nbclient, kernel
``python3``, working folder ``notebooks/``) and checks that the committed
files equal what this script writes.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from notebook_cells import NOTEBOOKS

HERE = Path(__file__).resolve().parent


def make_notebook(cells: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A notebook of ``(kind, source)`` cells, kind ``md`` or ``code``, no outputs."""
    nb = nbformat.v4.new_notebook()
    nb.metadata = {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                   "language_info": {"name": "python"}}
    for i, (kind, source) in enumerate(cells):
        source = source.strip("\n")
        cell = nbformat.v4.new_markdown_cell(source) if kind == "md" else nbformat.v4.new_code_cell(source)
        cell.id = f"cell-{i:02d}"  # stable ids: rebuilding gives the same bytes
        nb.cells.append(cell)
    nbformat.validate(nb)
    return nb


def notebook_text(name: str) -> str:
    """The file content of notebook ``name`` (e.g. ``01_quickstart``)."""
    return nbformat.writes(make_notebook(NOTEBOOKS[name]), version=4) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a notebook differs")
    args = parser.parse_args(argv)
    stale = []
    for name in NOTEBOOKS:
        path = HERE / f"{name}.ipynb"
        text = notebook_text(name)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path}")
    if stale:
        print(f"out of date: {', '.join(stale)}; run python notebooks/build_notebooks.py", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
