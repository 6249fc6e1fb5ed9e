"""Every math block of the generated derivations/*.md renders in the tools people use.

- tools/mathcheck/check.mjs renders each `$$...$$` and `$...$` block with KaTeX
  (throwOnError, strict "error") and MathJax 4 (unknown macros are errors);
- tools/mathcheck/page.py turns the Markdown into HTML with markdown-it-py and
  dollarmath, and headless Chromium typesets the page with the pinned KaTeX.

A broken document shows that both checks can fail.  In CI (CI set) a missing
node, npm package, Python package or chromium fails the tests; elsewhere it skips
them.  MATHCHECK_DOCS=DIR checks the .md files of another folder.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TOOL = ROOT / "tools" / "mathcheck"
DOCS_DIR = Path(os.environ.get("MATHCHECK_DOCS") or ROOT / "derivations")
DOCS = sorted(DOCS_DIR.glob("*.md"))
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# pages that may hold no math at all (the index is a table of links)
NO_MATH_OK = {"index.md"}
NO_DOCS = (
    f"no derivation .md file in {DOCS_DIR}: the generated derivations are missing "
    f"(write them with `derive build {DOCS_DIR}`)"
)
DOC_PARAMS = [pytest.param(p, id=p.name) for p in DOCS]
if not [p for p in DOCS if p.name not in NO_MATH_OK]:
    DOC_PARAMS.append(pytest.param(None, id="no-derivations"))


class Unavailable(Exception):
    """A tool the checks need is not installed."""


def _unavailable(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (CI is set, so this is a failure)", pytrace=False)
    pytest.skip(reason)


def _once(fn):
    """Run `fn` once per session; a missing tool skips (fails in CI) every caller."""
    cache: dict = {}

    def wrapper():
        if "value" not in cache:
            try:
                cache["value"] = (True, fn())
            except Unavailable as exc:
                cache["value"] = (False, str(exc))
        ok, value = cache["value"]
        if not ok:
            _unavailable(value)
        return value

    return wrapper


@_once
def page_module():
    for mod in ("markdown_it", "mdit_py_plugins"):
        if importlib.util.find_spec(mod) is None:
            raise Unavailable(f"Python package {mod} is missing (pip install markdown-it-py mdit-py-plugins)")
    spec = importlib.util.spec_from_file_location("mathcheck_page", TOOL / "page.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@_once
def node():
    exe = shutil.which("node")
    if not exe:
        raise Unavailable("node is missing (apt-get install nodejs npm)")
    proc = subprocess.run(["bash", str(TOOL / "install.sh")], capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise Unavailable(f"tools/mathcheck/install.sh failed: {proc.stderr.strip()[-2000:]}")
    return exe


@_once
def chromium():
    exe = page_module().find_chromium()
    if not exe:
        raise Unavailable("chromium is missing (apt-get install chromium)")
    node()  # the page inlines KaTeX from tools/mathcheck/node_modules
    return exe


def run_checker(*args: str) -> tuple[int, dict]:
    proc = subprocess.run([node(), str(TOOL / "check.mjs"), *args], capture_output=True,
                          text=True, timeout=600, cwd=TOOL)
    assert proc.returncode in (0, 1), f"check.mjs crashed (exit {proc.returncode}):\n{proc.stderr}"
    return proc.returncode, json.loads(proc.stdout)


@_once
def node_report():
    code, report = run_checker(*map(str, DOCS))
    assert (code == 0) == report["ok"] == (not report["failures"])
    return report


def node_extract(*paths: str) -> dict[str, list[tuple[bool, str]]]:
    """The math check.mjs finds, per file: [(display?, TeX with whitespace collapsed)]."""
    code, docs = run_checker("--extract", *paths)
    assert code == 0
    return {d["file"]: [(b["display"], _ws(b["tex"])) for b in d["blocks"]] for d in docs}


@_once
def node_math():
    return node_extract(*map(str, DOCS))


def _ws(tex: str) -> str:
    return re.sub(r"\s+", " ", tex).strip()


def page_math(text: str) -> list[tuple[bool, str]]:
    """The math markdown-it-py + dollarmath find: [(display?, TeX with whitespace collapsed)]."""
    return [(d, _ws(t)) for d, t in page_module().math_tokens(text)]


@_once
def page_report():
    docs = {str(p): p.read_text(encoding="utf-8") for p in DOCS}
    return page_module().check_documents(docs, chromium=chromium())


def expected_math(text: str) -> int:
    counts = page_module().count_math(text)
    return counts["display"] + counts["inline"]


# ------------------------------------------------------------------ the documents


@pytest.mark.parametrize("doc", DOC_PARAMS)
def test_math_renders_in_katex_and_mathjax(doc):
    if doc is None:
        pytest.fail(NO_DOCS, pytrace=False)
    report = node_report()
    (summary,) = [f for f in report["files"] if f["file"] == str(doc)]
    failures = [f for f in report["failures"] if f["file"] == str(doc)]
    assert not failures, "math that does not render:\n" + json.dumps(failures, indent=2, ensure_ascii=False)
    if doc.name not in NO_MATH_OK:
        assert summary["display"] > 0, f"{doc.name}: no display math found"
    # check.mjs must find exactly the math markdown-it-py + dollarmath find (the page's math)
    assert summary["blocks"] == expected_math(doc.read_text(encoding="utf-8")), summary
    assert node_math()[str(doc)] == page_math(doc.read_text(encoding="utf-8"))


@pytest.mark.parametrize("doc", DOC_PARAMS)
def test_math_renders_in_chromium_page(doc):
    if doc is None:
        pytest.fail(NO_DOCS, pytrace=False)
    result = page_report()
    assert result["done"], "the page never finished loading its fonts"
    assert not result["fonts"]["failed"], f"KaTeX fonts failed to load: {result['fonts']['failed']}"
    entry = result["docs"].get(str(doc))
    problems = page_module().document_problems(entry)
    assert not problems, f"{doc.name}: " + "; ".join(problems)
    assert entry["katex"] == entry["math"] == entry["expected"], entry
    if doc.name not in NO_MATH_OK:
        assert entry["math"] > 0, f"{doc.name}: the page has no math"


# ------------------------------------------------------------------ the checks can fail

BROKEN = r"""# Broken on purpose

Good inline math $a_{1} + b$ and good display math:

$$
\begin{aligned} x &= \frac{a}{b} \\ &= c \end{aligned}
$$

An undefined macro:

$$
\foo{x}
$$

An unknown environment $\begin{foo} a \end{foo}$ and a missing brace $\frac{a}{b$.

$$
\bm{x}
$$

Unicode text in math: $é$. Display math inside a paragraph: $$\left( x$$ ends here.

None of this is math: `$\foo$`, `` a `$\foo{x}$` b ``, an escaped \$\foo\$, $5 and $6.

```tex
$$ \foo $$ and $\foo$
```

    $\foo$ in an indented code block
"""

# block index -> engines that must reject it (KaTeX knows \bm, MathJax does not;
# only KaTeX's strict mode rejects unicode text in math mode)
BROKEN_EXPECTED = {
    2: {"katex", "mathjax"},  # \foo{x}
    3: {"katex", "mathjax"},  # \begin{foo}
    4: {"katex", "mathjax"},  # \frac{a}{b
    5: {"mathjax"},           # \bm{x}
    6: {"katex"},             # é
    7: {"katex", "mathjax"},  # \left( without \right
}
BROKEN_BLOCKS = 8


def test_checker_self_test_and_versions():
    code, report = run_checker("--self-test")
    assert code == 0 and report["ok"], json.dumps([r for r in report["results"] if r["expected"] != r["got"]], indent=2)
    lock = json.loads((TOOL / "package-lock.json").read_text())["packages"]
    assert report["versions"]["katex"] == lock["node_modules/katex"]["version"]
    assert report["versions"]["mathjax"] == lock["node_modules/mathjax"]["version"]
    assert report["versions"]["mathjax"].startswith("4.")


def test_broken_document_fails_both_checks(tmp_path):
    broken = tmp_path / "broken.md"
    broken.write_text(BROKEN, encoding="utf-8")
    assert expected_math(BROKEN) == BROKEN_BLOCKS

    code, report = run_checker(str(broken))
    assert code == 1 and not report["ok"]
    assert report["files"][0]["blocks"] == BROKEN_BLOCKS, report["files"]
    assert node_extract(str(broken))[str(broken)] == page_math(BROKEN)
    rejected: dict[int, set] = {}
    for f in report["failures"]:
        rejected.setdefault(f["block"], set()).add(f["engine"])
        assert f["error"], f
    assert rejected == BROKEN_EXPECTED, json.dumps(report["failures"], indent=2, ensure_ascii=False)

    result = page_module().check_documents({"broken": BROKEN}, chromium=chromium())
    entry = result["docs"]["broken"]
    katex_rejects = sum("katex" in engines for engines in BROKEN_EXPECTED.values())
    assert entry["math"] == BROKEN_BLOCKS
    assert entry["errors"] == katex_rejects, entry
    assert sorted(f["index"] for f in entry["failures"]) == sorted(
        i for i, engines in BROKEN_EXPECTED.items() if "katex" in engines), entry
    # \foo is not a .katex-error with throwOnError false: KaTeX draws it in errorColor
    assert entry["errorColored"] == 1, entry
    assert entry["katex"] == BROKEN_BLOCKS - entry["katexErrors"] - entry["thrown"], entry
    assert entry["katex"] < entry["math"]
    assert page_module().document_problems(entry)
