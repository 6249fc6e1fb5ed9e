"""Jupyter's HTML display (derive.render.jupyter): user text escaped, document formulas typeset only when safe."""
from __future__ import annotations

import dataclasses

import derive
from derive.render.jupyter import document_math

SCRIPT = "<script>alert(1)</script>"


def test_titles_descriptions_and_lemma_titles_are_escaped(ce):
    lemma = ce.lemmas[0]
    step = next(n for n, s in enumerate(ce.steps) if s.lemmas)
    hostile_lemma = dataclasses.replace(lemma, title=f"lemma {SCRIPT}")
    cited = dataclasses.replace(ce.steps[step], lemmas=(hostile_lemma,) + ce.steps[step].lemmas[1:])
    d = dataclasses.replace(ce.with_step(step, cited), title=f"Tom & {SCRIPT}", description=f"a < b {SCRIPT}")
    for shown in (d._repr_html_(), d.steps[step]._repr_html_()):
        assert SCRIPT not in shown and "&lt;script&gt;alert(1)&lt;/script&gt;" in shown
    assert "<b>Tom &amp; &lt;script&gt;" in d._repr_html_()


def test_a_check_report_escapes_the_document_and_does_not_typeset_commands_that_reach_outside(ce):
    text = "$$\n\\href{javascript:alert(1)}{E} = 1 = 1\n$$\n\n$$\na < b = a < b\n$$\n"
    report = derive.check(text, name=f"post {SCRIPT}.md")
    shown = report._repr_html_()
    assert SCRIPT not in shown and "post &lt;script&gt;" in shown
    assert "\\(\\displaystyle \\href" not in shown and "<code>\\href{javascript:alert(1)}{E} = 1</code>" in shown
    assert "a &lt; b" in shown and "a < b" not in shown


def test_document_math():
    assert document_math(r"\frac{a}{b} < c") == r"\(\displaystyle \frac{a}{b} &lt; c\)"
    for command in (r"\href{x}{y}", r"\style{color:red}{x}", r"\require{html}", r"\class{a}{x}", r"\cssId{a}{x}"):
        assert document_math(command).startswith("<code>")


def test_an_entry_and_a_compiled_function_show_what_they_are(ce):
    shown = derive.entry("softmax_ce")._repr_html_()
    assert "<b>softmax_ce</b>" in shown and "seed 001" in shown
    g = ce.compile()._repr_html_()
    assert "f(z=(N, K), y=(N, K)) -&gt; (N, K)" in g and "<details><summary>generated code</summary>" in g


def test_derives_own_words_are_typeset_and_a_users_stay_text():
    """A Typeset heading or reason ('Derivative of $o_{j}$ ...') is MathJax in the output, never a raw $;
    a user's own title is text, its $ signs characters."""
    import re
    d = derive.gradient("-sum(y[j]*log(softmax(z)[j]), j)", title="costs $5 & more")
    shown = re.sub(r"<style>.*?</style>", "", d._repr_html_(), flags=re.S)
    assert r"Derivative of \(o_{j}\) with respect to \(z_{k}\)" in shown
    assert "<b>costs $5 &amp; more</b>" in shown and shown.count("$") == 1
