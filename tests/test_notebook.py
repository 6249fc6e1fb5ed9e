"""The example notebook is stored with its outputs, and they are what a fresh run gives."""
import importlib.util
from pathlib import Path

import nbformat

import derive

ROOT = Path(__file__).parent.parent
NOTEBOOK = ROOT / "examples" / "tour.ipynb"
spec = importlib.util.spec_from_file_location("notebook_script", ROOT / "scripts" / "notebook.py")
notebook = importlib.util.module_from_spec(spec)
spec.loader.exec_module(notebook)


def test_example_notebook_executes_and_matches_its_stored_outputs(tmp_path):
    stored = nbformat.read(NOTEBOOK, as_version=4)
    fresh = notebook.execute(stored, tmp_path)
    errors = [o for c in fresh.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    first = fresh.cells[1].outputs[0]["data"]
    assert first["text/latex"] == derive.softmax_ce()._repr_latex_()
    assert first["text/markdown"] == derive.softmax_ce()._repr_markdown_()
    assert notebook.outputs(fresh) == notebook.outputs(stored), "run: python scripts/notebook.py"


def test_committed_notebook_has_outputs_in_every_code_cell():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code and all(c.get("outputs") for c in code)


def test_a_stale_output_is_detected():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    changed = nbformat.read(NOTEBOOK, as_version=4)
    cell = [c for c in changed.cells if c.cell_type == "code" and c.outputs][0]
    cell.outputs[0]["data"]["text/plain"] = "something else"
    assert notebook.outputs(changed) != notebook.outputs(nb)
