"""The example notebook runs headlessly from top to bottom, and its rich display is the derivation's."""
from pathlib import Path

import nbformat
from nbclient import NotebookClient

import derive

NOTEBOOK = Path(__file__).parent.parent / "examples" / "tour.ipynb"


def test_example_notebook_executes(tmp_path):
    nb = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    first = nb.cells[1].outputs[0]["data"]
    assert first["text/latex"] == derive.softmax_ce()._repr_latex_()
    assert first["text/markdown"] == derive.softmax_ce()._repr_markdown_()


def test_committed_notebook_has_no_outputs():
    nb = nbformat.read(NOTEBOOK, as_version=4)
    assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")
