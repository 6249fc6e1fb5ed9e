"""Run examples/tour.ipynb and store it with its outputs, so that it reads on a repository page.

Usage: python scripts/notebook.py [--check]
--check writes nothing and exits 1 when the stored outputs differ from a fresh run
(tests/test_notebook.py runs the same comparison).
"""
from __future__ import annotations

import copy
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

NOTEBOOK = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"


def execute(nb, folder: Path):
    """A copy of ``nb`` run top to bottom in ``folder`` (a fresh kernel)."""
    out = copy.deepcopy(nb)
    NotebookClient(out, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(folder)}}).execute()
    return out


def outputs(nb) -> list:
    """Each code cell's outputs without what varies from run to run (execution counts, metadata)."""
    out = []
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        kept = []
        for o in cell.get("outputs", []):
            if o["output_type"] == "stream":
                kept.append(("stream", o["name"], o["text"]))
            elif o["output_type"] in ("execute_result", "display_data"):
                kept.append((o["output_type"], dict(sorted(o["data"].items()))))
            else:
                kept.append((o["output_type"], o.get("ename"), o.get("evalue")))
        out.append(kept)
    return out


def clean(nb):
    """Execution counts from 1 in order, no kernel timing metadata: the stored file is byte-stable."""
    n = 0
    for cell in nb.cells:
        cell.metadata.pop("execution", None)
        if cell.cell_type == "code":
            n += 1
            cell.execution_count = n
            for o in cell.get("outputs", []):
                if "execution_count" in o:
                    o["execution_count"] = n
                o.get("metadata", {}).clear() if isinstance(o.get("metadata"), dict) else None
    nb.metadata.pop("widgets", None)
    return nb


def main(argv: list) -> int:
    import tempfile
    nb = nbformat.read(NOTEBOOK, as_version=4)
    with tempfile.TemporaryDirectory() as folder:
        fresh = execute(nb, Path(folder))
    if "--check" in argv:
        if outputs(fresh) != outputs(nb):
            print(f"{NOTEBOOK}: stored outputs differ from a fresh run; run: python scripts/notebook.py",
                  file=sys.stderr)
            return 1
        print(f"{NOTEBOOK}: stored outputs are current")
        return 0
    nbformat.write(clean(fresh), NOTEBOOK)
    print(f"{NOTEBOOK}: executed and stored with outputs")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
