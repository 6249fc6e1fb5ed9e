"""The committed documents in derivations/ are current, and the LaTeX ones compile cleanly, nothing off the page."""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from derive import cli

FOLDER = Path(__file__).parent.parent / "derivations"


def test_derivations_are_up_to_date():
    stale = [name for name, text in cli.documents().items()
             if not (FOLDER / name).is_file() or (FOLDER / name).read_text(encoding="utf-8") != text]
    assert not stale, f"run `derive build`: stale {stale}"


def test_no_stray_files():
    expected = set(cli.documents())
    assert {p.name for p in FOLDER.iterdir()} == expected


@pytest.mark.skipif(shutil.which("pdflatex") is None and not os.environ.get("CI"),
                    reason="pdflatex not installed (CI installs it; there this test never skips)")
@pytest.mark.parametrize("tex", sorted(p.name for p in FOLDER.glob("*.tex")))
def test_committed_latex_compiles_without_warnings_that_matter(tex, tmp_path):
    shutil.copy(FOLDER / tex, tmp_path / tex)
    for _ in range(2):  # the second run resolves the \eqref of the first, as for any document with numbers
        run = subprocess.run(["pdflatex", "-halt-on-error", "-interaction=nonstopmode", tex], cwd=tmp_path,
                             capture_output=True, text=True, timeout=120)
    log = (tmp_path / tex.replace(".tex", ".log")).read_text(errors="replace")
    assert run.returncode == 0, log[-3000:]
    for bad in ("Undefined control sequence", "Missing character", "undefined references",
                "Reference `", "Citation `"):
        assert bad not in log, bad
    assert not re.search(r"LaTeX Warning: .*undefined", log)
    wide = [m.group(0) for m in re.finditer(r"Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)[^\n]*", log)
            if float(m.group(1)) > 1.0]
    assert not wide, f"{tex} runs off the page (run `derive build`): {wide}"
