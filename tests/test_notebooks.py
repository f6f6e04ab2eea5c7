"""The teaching notebooks run, cell by cell, are stored without outputs, and match their scripts.

Every notebook is a pair (jupytext, ``notebooks/jupytext.toml``):
``NN_name.ipynb``, which a student opens, and ``NN_name.py`` in jupytext's
percent format, which a maintainer diffs. Both must hold the same cells; after
editing one side, ``jupytext --sync notebooks/*.py`` updates the other.

Each notebook is executed with nbclient in a fresh ``python3`` kernel whose
working folder is ``notebooks/`` (as a student opens it); a cell that raises
fails the test with the cell's error. The notebooks check their own teaching
claims (textbook formula against the simulation, IEEE 1547 table points,
Wood & Wollenberg 3A) with ``assert``, so a change to the code that breaks
what a notebook says fails here too.

On a machine with no kernel spec installed, the ``python3`` spec of the
running interpreter is installed first (``python -m ipykernel install
--user``), so the kernel runs the same Python that runs the tests.
"""
from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")
jupytext = pytest.importorskip("jupytext")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted({p.stem for p in NOTEBOOKS.glob("*.ipynb")} | {p.stem for p in NOTEBOOKS.glob("*.py")})
FIRST_NOTEBOOKS = ("01_quickstart", "02_unit_control", "03_area_control", "04_market", "05_your_own_policy")
PAIRING = "ipynb,py:percent"
CELL_TIMEOUT_S = 300


def _ensure_kernel() -> None:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        KernelSpecManager().get_kernel_spec("python3")
    except NoSuchKernel:
        subprocess.run([sys.executable, "-m", "ipykernel", "install", "--user", "--name", "python3"],
                       check=True, capture_output=True)


def _files_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            and ".ipynb_checkpoints" not in p.parts}


#: notebooks that need an optional extra: name -> the package it needs
EXTRAS = {"07_gym_agent": "gymnasium"}


def test_the_first_notebooks_are_there():
    assert set(FIRST_NOTEBOOKS) <= set(NAMES)


def _cells_as_lines(nb) -> list[str]:
    """A notebook's cells as text lines, each cell led by a ``--- kind cell i`` line."""
    return [line for i, cell in enumerate(nb.cells)
            for line in [f"--- {cell.cell_type} cell {i}", *cell.source.splitlines()]]


@pytest.mark.parametrize("name", NAMES)
def test_paired_with_its_script(name):
    ipynb, script = NOTEBOOKS / f"{name}.ipynb", NOTEBOOKS / f"{name}.py"
    pair = f"run: jupytext --set-formats {PAIRING} notebooks/{name}.py (or .ipynb, the side that exists)"
    assert ipynb.exists() and script.exists(), f"{name}: .ipynb or .py missing; {pair}"
    nb = jupytext.read(ipynb)
    assert nb.metadata.get("jupytext", {}).get("formats") == PAIRING, f"{name}.ipynb is not paired; {pair}"
    from_ipynb, from_script = _cells_as_lines(nb), _cells_as_lines(jupytext.read(script, fmt="py:percent"))
    assert from_ipynb == from_script, "\n".join(
        [f"{name}.ipynb and {name}.py hold different cells; run: jupytext --sync notebooks/{name}.py",
         *difflib.unified_diff(from_ipynb, from_script, f"{name}.ipynb", f"{name}.py", lineterm="")])


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code), (
        f"{name}.ipynb holds outputs: clear them before committing (JupyterLab: Edit > Clear Outputs of "
        f"All Cells, then save; or jupyter nbconvert --clear-output --inplace notebooks/{name}.ipynb)")
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown"), "equations missing"


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, monkeypatch):
    if name in EXTRAS:
        pytest.importorskip(EXTRAS[name])
    _ensure_kernel()
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")
    before = _files_under(NOTEBOOKS)
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    client = nbclient.NotebookClient(nb, timeout=CELL_TIMEOUT_S, kernel_name="python3",
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    images = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
              if o.get("output_type") == "display_data" and "image/png" in o.get("data", {})]
    assert images, f"{name} shows no plot"
    after = _files_under(NOTEBOOKS)
    assert after == before, f"{name} left files: {sorted(map(str, after - before))}"
    assert not (NOTEBOOKS / "results").exists()
    json.dumps(nb)  # the executed notebook is still valid JSON
