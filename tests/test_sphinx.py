"""derive.sphinx: a small Sphinx project built in tmp_path (HTML builder), from reStructuredText and MyST."""
import dataclasses
import io
import re

import pytest

pytest.importorskip("sphinx")
pytest.importorskip("myst_parser")

from sphinx.application import Sphinx  # noqa: E402

import derive  # noqa: E402
import derive.sphinx as ext  # noqa: E402
from derive.sphinx import DerivationDirectiveError  # noqa: E402

CE = "-sum(y[j]*log(softmax(z)[j]), j)"

INDEX = """\
Softmax
=======

.. toctree::

   typed

The catalogue's cross-entropy, with result :eq:`softmax_ce:result`.

.. derivation:: softmax_ce
"""

TYPED = f"""\
# A typed cost

```{{derivation}}
:wrt: z
:assume: sum(y[j], j) = 1
:name: ce

{CE}
```

The result {{eq}}`ce:result`, the same as {{eq}}`softmax_ce:result`.
"""


def build(tmp_path, pages: dict, **conf) -> tuple:
    """(output folder, warnings) of an HTML build of ``pages`` (name -> source)."""
    src, out = tmp_path / "src", tmp_path / "out"
    src.mkdir(parents=True)
    settings = {"extensions": ["derive.sphinx", "myst_parser"], **conf}
    (src / "conf.py").write_text("".join(f"{k} = {v!r}\n" for k, v in settings.items()))
    for name, text in pages.items():
        (src / name).write_text(text)
    warnings = io.StringIO()
    app = Sphinx(str(src), str(src), str(out), str(tmp_path / "doctrees"), "html", status=None,
                 warning=warnings, freshenv=True)
    app.build()
    # a second Sphinx in one process re-registers docutils' node classes: not the project's warning
    lines = [x for x in warnings.getvalue().splitlines() if "is already registered" not in x]
    return out, "\n".join(lines)


def displays(html: str) -> list:
    """The TeX of each display math block of a built page, with its equation number ('' if none)."""
    out = []
    for m in re.finditer(r'<div class="math notranslate nohighlight"[^>]*>\s*(?:<span class="eqno">\((\d+)\))?'
                         r'.*?\\\[(.*?)\\\]</div>', html, re.S):
        out.append((m.group(1) or "", m.group(2)))
    return out


def test_rst_and_myst_pages_show_the_derivation_as_numbered_math_and_cross_references_resolve(tmp_path):
    out, warnings = build(tmp_path, {"index.rst": INDEX, "typed.md": TYPED})
    assert not warnings.strip(), warnings
    index, typed = (out / "index.html").read_text(), (out / "typed.html").read_text()
    for page in (index, typed):
        shown = displays(page)
        assert len(shown) >= 5 and all(number for number, _ in shown)  # every display is numbered
        tex = "\n".join(t for _, t in shown)
        assert r"\frac{\partial E}{\partial z_{k}}" in tex and r"o_{k} - y_{k}" in tex
        assert r"&amp;&amp; {\small \text{definition of the" in tex  # a reason beside its row
        assert "Lemma 1" in page and ">Definitions<" in page and ">Result<" in page
    # the labels are targets on the page, and {eq} / :eq: resolve to them, across pages too
    for label in ("ce-def-1", "ce-lemma-1", "ce-derivation", "ce-result"):
        assert f'id="equation-{label}"' in typed
    assert 'id="equation-softmax-ce-result"' in index
    numbers = {}
    for page, html in (("index.html", index), ("typed.html", typed)):
        for label, n in re.findall(r'id="equation-([a-z0-9-]+)">\s*<span class="eqno">\((\d+)\)', html):
            numbers[page, label] = n
    assert numbers["typed.html", "ce-result"] and numbers["index.html", "softmax-ce-result"]
    # each reference shows the number of the equation it links to
    assert f'href="#equation-ce-result">({numbers["typed.html", "ce-result"]})</a>' in typed
    assert f'href="index.html#equation-softmax-ce-result">({numbers["index.html", "softmax-ce-result"]})</a>' in typed
    assert f'href="#equation-softmax-ce-result">({numbers["index.html", "softmax-ce-result"]})</a>' in index
    # the cost typed in the directive is the one derived
    # (its description is typeset, issue 17.5: the cost E, stated by its definition, not in ASCII beside it)
    assert "The gradient of the cost" in typed and "E = -sum(y[j]" not in typed
    assert r"- \sum_{j=1}^{K} y_{j} \log o_{j}" in typed


def test_lemmas_no_shows_each_lemma_as_its_result_only(tmp_path):
    page = ".. derivation:: softmax_ce\n   :lemmas: no\n   :name: short\n"
    out, warnings = build(tmp_path, {"index.rst": "Title\n=====\n\n" + page})
    html = (out / "index.html").read_text()
    assert 'id="equation-short-lemma-1"' in html and r"\text{quotient rule" not in html
    assert "substitute the lemma" in html  # the main chain is still there


def _corrupted(original):
    def gradient(*args, **kwargs):
        d = original(*args, **kwargs)
        n = next(n for n, s in enumerate(d.steps) if s.rule.value == "cancel")
        return d.with_step(n, dataclasses.replace(d.steps[n], expr=d.steps[n].expr * 2))
    return gradient


def test_a_derivation_that_does_not_verify_fails_the_build_naming_the_line_and_the_step(tmp_path, monkeypatch):
    monkeypatch.setattr(ext, "gradient", _corrupted(derive.gradient))
    with pytest.raises(DerivationDirectiveError) as caught:
        build(tmp_path, {"index.rst": "Title\n=====\n\n.. toctree::\n\n   typed\n", "typed.md": TYPED})
    message = str(caught.value)
    assert re.search(r"typed\.md:3: derivation: ce does not verify", message), message
    assert re.search(r"\[FAIL\] ce: step \d+ \(cancel\)", message), message


def test_verify_no_skips_the_check(tmp_path, monkeypatch):
    monkeypatch.setattr(ext, "gradient", _corrupted(derive.gradient))
    page = f".. derivation::\n   :cost: {CE}\n   :verify: no\n"
    out, _ = build(tmp_path, {"index.rst": "Title\n=====\n\n" + page})
    assert 'id="equation-gradient-result"' in (out / "index.html").read_text()


@pytest.mark.parametrize("body, problem", [
    (".. derivation::\n   :cost: -sum(y[j]*log(softmax(z)[j], j)\n", r":cost: .*(bracket|parenthes|\()"),
    (".. derivation::\n   :cost: sum(z[j], j)\n   :K: two\n", r":K: must be a whole number, got 'two'"),
    (".. derivation::\n   :cost: sum(z[j], j)\n   :asume: sum(y[j], j) = 1\n", r"unknown option :asume:"),
    (".. derivation:: softmax_ce\n   :wrt: z\n", r":wrt: applies to a cost typed in the directive"),
    (".. derivation:: softmax_cee\n", r"no derivation called 'softmax_cee'"),
    (".. derivation::\n", r"no derivation: name a catalogue entry"),
    (".. derivation:: softmax_ce\n   :verify: perhaps\n", r":verify: must be yes or no"),
    (".. derivation::\n   :cost: " + CE + "\n   :assume: sum(y[j], j) = 2\n", r":assume\[0\]: only an assumption"),
    (".. derivation:: softmax_ce\n\n.. derivation:: softmax_ce\n", r"label 'softmax_ce:def-1' is already used.*:name:"),
])
def test_bad_input_fails_the_build_with_the_line_and_the_problem(tmp_path, body, problem):
    with pytest.raises(DerivationDirectiveError) as caught:
        build(tmp_path, {"index.rst": "Title\n=====\n\n" + body}, derive_verify=False)
    message = str(caught.value)
    assert re.search(r"index\.rst:\d+: derivation: ", message), message
    assert re.search(problem, message), message


def test_K_is_read_from_rst_and_from_myst(tmp_path):
    rst = "Title\n=====\n\n.. toctree::\n\n   three\n\n.. derivation:: softmax_ce\n   :K: 3\n   :verify: no\n"
    md = "# Three\n\n```{derivation}\n:K: 3\n:name: three\n:verify: no\n\n" + CE + "\n```\n"
    out, warnings = build(tmp_path, {"index.rst": rst, "three.md": md})
    assert not warnings.strip(), warnings
    for page in ("index.html", "three.html"):
        assert r"\sum_{j=1}^{3}" in (out / page).read_text()


@pytest.mark.parametrize("name", [e.name for e in derive.catalogue()])
def test_every_catalogue_entry_makes_displays_whose_lines_end_as_aligned_needs(name):
    from docutils import nodes
    from derive.render.nodes import derivation_nodes
    d = derive.entry(name)()
    box, = derivation_nodes(d, name)
    shown = list(box.findall(nodes.math_block))
    labels = [m["label"] for m in shown]
    assert len(labels) == len(set(labels)) and all(x.startswith(name + ":") for x in labels)
    assert f"{name}:result" in labels or f"{name}:result-1" in labels
    for m in shown:
        tex = m.astext()
        assert "\n\n" not in tex  # Sphinx would read two equations
        if r"\begin{aligned}" in tex:
            inner = tex.split("\n")[1:-1]
            assert all(x.endswith(r" \\") for x in inner[:-1]) and not inner[-1].endswith(r"\\"), tex
        else:
            assert "&" not in tex and r"\\" not in tex, tex
    # every step's reason is there, beside its row or beneath it, word for word
    # (a Typeset reason's text pieces escaped, its mathematics as written: 'split off the term $j = k$')
    from derive.render.layout import pieces
    from derive.render.tex import escape
    chains = "\n".join(m.astext() for m in shown)
    for x in d.walk():
        for step in x.steps:
            for kind, part in pieces(step.justification):
                for word in (escape(part) if kind == "text" else part).split():
                    assert word in chains, (x.name, step.justification)


def test_myst_options_as_yaml_and_an_unknown_one(tmp_path):
    md = "# Yaml\n\n```{derivation} softmax_ce\n---\nK: 3\nverify: no\n---\n```\n"
    out, warnings = build(tmp_path, {"index.md": md})
    assert not warnings.strip(), warnings
    assert r"\sum_{j=1}^{3}" in (out / "index.html").read_text()
    with pytest.raises(DerivationDirectiveError, match=r"index\.md:3: derivation: unknown option :lemma:"):
        build(tmp_path / "again", {"index.md": "# Bad\n\n```{derivation} softmax_ce\n:lemma: no\n```\n"})
