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
    assert first["text/html"] == derive.softmax_ce()._repr_html_()
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


def _html_of(nb, start: str) -> str:
    cell = next(c for c in nb.cells if c.cell_type == "code" and c.source.startswith(start))
    return next(o["data"]["text/html"] for o in cell.outputs if "text/html" in o.get("data", {}))


def test_the_stored_notebook_shows_each_object_as_html():
    """A derivation, a step, verify's report, a compiled function, an entry and derive check's report each
    show as HTML in the stored notebook: their own _repr_html_, with the rules, collapsible lemmas and verdicts."""
    nb = nbformat.read(NOTEBOOK, as_version=4)
    d = derive.softmax_ce()
    shown = _html_of(nb, "import numpy")
    assert shown == d._repr_html_()
    assert "<details><summary><b>Lemma 1: Softmax partial, same index</b>" in shown
    assert '<span class="rule">linearity</span>' in shown and "substitute the lemmas (Lemma 1 and Lemma 2)" in shown
    step = _html_of(nb, "d.steps[4]")
    assert step == d.steps[4]._repr_html_() and step.count("<details>") == 2 and "quotient rule" in step
    report = _html_of(nb, "report  #")
    verified = d.verify()
    assert report == verified._repr_html_()
    n = len(verified.checks)
    assert n > 20 and verified.ok
    assert f"<b>verify softmax_ce</b>: all {n} checks passed" in report
    assert report.count('<tr class="ok"><td><span class="tag">ok</span>') == n
    same = sum(1 for c in verified.checks if c.derivation == "softmax_partial_same")
    assert same and f"<details><summary>softmax_partial_same: {same} checks, all passed</summary>" in report
    compiled = _html_of(nb, "g  #")
    assert compiled == d.compile()._repr_html_() and "generated code" in compiled and "(N, K)" in compiled
    assert _html_of(nb, "derive.entry") == derive.entry("label_smoothing")._repr_html_()
    checked = _html_of(nb, "checked = ")
    assert '<tr class="holds">' in checked and '<tr class="wrong first">' in checked
    assert "the engine derives \\(\\displaystyle \\frac{\\partial E}{\\partial z_k} = o_{k} - y_{k}\\)" in checked
