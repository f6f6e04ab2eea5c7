"""The teaching notebooks run, cell by cell, and are stored as their generator writes them.

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

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

nbformat = pytest.importorskip("nbformat")
nbclient = pytest.importorskip("nbclient")
pytest.importorskip("ipykernel")

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
NAMES = sorted(p.stem for p in NOTEBOOKS.glob("*.ipynb"))
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


def test_there_are_six_notebooks():
    assert NAMES == ["01_quickstart", "02_unit_control", "03_area_control", "04_market",
                     "05_your_own_policy", "06_order_book"]


@pytest.mark.parametrize("name", NAMES)
def test_stored_without_outputs(name):
    nb = nbformat.read(NOTEBOOKS / f"{name}.ipynb", as_version=4)
    nbformat.validate(nb)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(not c.outputs and c.execution_count is None for c in code)
    assert any("$$" in c.source for c in nb.cells if c.cell_type == "markdown"), "equations missing"


def test_notebooks_equal_their_generator():
    result = subprocess.run([sys.executable, "build_notebooks.py", "--check"], cwd=NOTEBOOKS,
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("name", NAMES)
def test_notebook_runs(name, monkeypatch):
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
