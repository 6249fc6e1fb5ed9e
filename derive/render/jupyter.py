"""HTML for Jupyter's rich display (``_repr_html_``): a derivation, a step, a verify report, a compiled
function, a catalogue entry and a check report.

Each is one fragment, ``<div class="derive-output">`` with a small stylesheet scoped to that class.
Formulas are TeX between MathJax's delimiters, \\( \\) and \\[ \\] (JupyterLab and the classic notebook
typeset them in HTML output; elsewhere they read as TeX). Lemmas, parts, generated code and
counterexamples are collapsible (``<details>``). Every word a user or a document supplied (titles,
descriptions, a document's formulas, names) is escaped with html.escape. The model classes' methods
only call these; like every renderer, they format what the objects hold and compute nothing.
"""
from __future__ import annotations

import html
import re
from functools import partial

from ..errors import ArgumentError
from ..model import Derivation, Relation, Step
from .html import _why, _words
from .layout import Block, Row, blocks, capitalised, display_of, result_relations, scoped_assumptions
from .printers import latex as latex_of

CSS = """
.derive-output{font-size:.95rem;line-height:1.5;max-width:60rem}
.derive-output .derive-head{margin:.2rem 0 .5rem}
.derive-output ol.chain{list-style:none;margin:.25rem 0 .5rem;padding:0}
.derive-output ol.chain>li{padding:.2rem 0 .3rem;border-bottom:1px solid #eee}
.derive-output ol.chain>li:last-child{border-bottom:0}
.derive-output .row{overflow-x:auto;overflow-y:hidden;padding:.1rem 0}
.derive-output .why{margin:0 0 0 1.5rem;font-size:.9rem;color:#444}
.derive-output .why .num{color:#777;display:inline-block;min-width:1.4rem}
.derive-output .rule{font-size:.8em;font-weight:600;color:#1f3f66;background:#eaf0f7;border:1px solid #d3deea;
 border-radius:3px;padding:0 .35em;margin-right:.3em;white-space:nowrap}
.derive-output details{margin:.3rem 0;padding:.1rem .6rem;border-left:3px solid #d3deea}
.derive-output summary{cursor:pointer}
.derive-output .tag{display:inline-block;min-width:3.6rem;text-align:center;font-weight:600;font-size:.85em;
 border-radius:3px;padding:0 .3rem;color:#fff}
.derive-output .holds .tag,.derive-output .ok .tag{background:#2a7a2a}
.derive-output .wrong .tag,.derive-output .fail .tag{background:#b42020}
.derive-output .unread .tag{background:#8a6d00}
.derive-output .holds_if .tag{background:#4f8a4f}.derive-output .ambiguous .tag{background:#7a4fb0}
.derive-output table{border-collapse:collapse;margin:.3rem 0}
.derive-output td,.derive-output th{padding:.15rem .5rem;text-align:left;vertical-align:top;border-bottom:1px solid #eee}
.derive-output tr.first{outline:2px solid #b42020}
.derive-output td.claim{white-space:nowrap;overflow-x:auto;max-width:32rem}
.derive-output pre{font-size:.82rem;overflow-x:auto;background:#f7f7f7;padding:.4rem}
.derive-output code{font-size:.88em}
"""


def _e(words) -> str:
    return html.escape(str(words), quote=True)


def _prose(words, capital: bool = False) -> str:
    """Words as HTML: text escaped, the $...$ mathematics of a Typeset (derive's own headings, reasons and
    descriptions) for MathJax; a user's own words are text, their $ signs characters."""
    return _words(capitalised(words) if capital else words, math)


def math(tex: str, display: bool = False) -> str:
    """TeX for MathJax: \\[ ... \\] or \\( ... \\), escaped for HTML."""
    return rf"\[{_e(tex)}\]" if display else rf"\({_e(tex)}\)"


# MathJax commands that reach outside the formula (links, HTML attributes, styles, loading extensions)
_UNSAFE = re.compile(r"\\(href|url|html|class|cssId|style|data|attr|require|unicode|mmlToken|mathtip|texttip)\b")


def document_math(tex: str) -> str:
    """A formula a document wrote (derive check's claims) for MathJax; one using a command that reaches
    outside the formula (\\href, \\style, \\require, ...) is shown as code instead, never typeset."""
    return f"<code>{_e(tex)}</code>" if _UNSAFE.search(tex) else math(r"\displaystyle " + tex)


def _frame(body: list) -> str:
    return '<div class="derive-output"><style>' + CSS + "</style>\n" + "\n".join(body) + "\n</div>"


def _chain(block: Block, latex) -> list:
    """The rows of a chain, each 'lhs = expr' (later rows with the lhs as space, so the = signs align),
    with its reason beneath it."""
    lhs = latex(block.lhs)
    out = ['<ol class="chain">']
    for n, row in enumerate(block.rows):
        head = lhs if n == 0 else r"\phantom{" + lhs + "}"
        shown = math(r"\displaystyle " + head + f" {row.relation.tex} " + latex(row.expr))
        out.append(f'<li><div class="row">{shown}</div>{_why(n + 1, row, latex, math, links=False)}</li>')
    return out + ["</ol>"]


def _equation(lhs, rhs, latex, relation: Relation = Relation.EQ) -> str:
    return math(r"\displaystyle " + latex(lhs) + f" {relation.tex} " + latex(rhs))


def _block(block: Block, latex, result, open_: bool = False, relation: Relation = Relation.EQ) -> list:
    """A lemma or a part: its heading and equation as the summary, its chain inside."""
    conditions = ", ".join(math(latex(c.statement)) for c in block.conditions)
    summary = f"<b>{_prose(block.heading)}</b>: {_equation(block.lhs, result, latex, relation)}" + (
        f" &nbsp;(for {conditions})" if conditions else "")
    out = [f"<details{' open' if open_ else ''}><summary>{summary}</summary>"]
    if block.description:
        out.append(f"<p>{_prose(block.description, capital=True)}.</p>")
    return out + _chain(block, latex) + ["</details>"]


def derivation_html(d: Derivation) -> str:
    """The derivation: title and description, definitions, each lemma and part collapsed (its
    equation in the summary), the chain with each step's rule and reason, the result, the assumptions."""
    latex = partial(latex_of, display=display_of(d))
    body = [f'<p class="derive-head"><b>{_prose(d.title)}</b>' + (f" &mdash; {_prose(d.description)}." if d.description
                                                                else "") + "</p>"]
    defs = []
    for x in d.definitions:
        note = f" ({_e(x.text)})" if x.text else ""
        shown = math(latex(x.lhs)) if x.abstract else math(r"\displaystyle " + latex(x.lhs) + " := " + latex(x.expr))
        defs.append(f"<li>{shown}{note}</li>")
    body += ["<details open><summary><b>Definitions</b></summary><ul>", *defs, "</ul></details>"]
    by_name = {x.name: x for x in d.walk()}
    for block in blocks(d):
        if block.kind == "main":
            body.append("<p><b>Derivation</b>" + (f" (for {', '.join(math(latex(c.statement)) for c in block.conditions)})"
                                                  if block.conditions else "") + "</p>")
            body += _chain(block, latex)
        else:
            body += _block(block, latex, by_name[block.name].result, relation=by_name[block.name].relation)
    results = d.results
    body.append(f"<p><b>{'Result' if len(results) == 1 else 'Results'}</b></p>")
    body += [f'<div class="row">{_equation(lhs, rhs, latex, relation)}</div>'
             for (lhs, rhs), relation in zip(results, result_relations(d))]
    scoped = scoped_assumptions(d)
    if scoped:
        body.append("<p><b>Assumptions</b></p><ul>")
        body += [f"<li>{math(latex(a.statement))}: {_prose(a.words)} ({_e(where)})</li>" for a, where in scoped]
        body.append("</ul>")
    if not d.complete:
        body.append(f"<p><b>Incomplete</b>: {_e('; '.join(x.incomplete for x in d.walk() if x.incomplete))}</p>")
    return _frame(body)


def step_html(step: Step) -> str:
    """One step: '= expr', its rule and reason; each lemma it cites collapsed, with the lemma's chain.

    A step does not know its derivation's notation: a symbol only that notation prints (log o of the
    log-softmax) makes the step show as its repr, with a note saying so."""
    try:
        return _step_html(step)
    except ArgumentError:
        return _frame([f'<p class="derive-head"><b>Step</b> <span class="rule">{_e(step.rule.value)}</span></p>',
                       f"<pre>{_e(repr(step))}</pre>",
                       f"<p>{_prose(step.justification)}. Its symbols print in the notation of its derivation: "
                       "display the derivation to see it typeset.</p>"])


def _step_html(step: Step) -> str:
    display: dict = {}
    for lemma in step.lemmas:
        display.update(display_of(lemma))
    latex = partial(latex_of, display=display)
    row = Row(step.expr, step.rule.title, step.justification, step.formula, step.assumptions,
              tuple(range(1, len(step.lemmas) + 1)), step.relation, step.rule.law)
    body = [f'<p class="derive-head"><b>Step</b> <span class="rule">{_e(step.rule.value)}</span></p>',
            '<div class="row">' + math(r"\displaystyle " + step.relation.tex + " " + latex(step.expr)) + "</div>",
            _why(1, row, latex, math, links=False).replace('<span class="num">1</span> ', "")]
    for n, lemma in enumerate(step.lemmas, start=1):
        main = blocks(lemma)[-1] if lemma.steps else None
        if main is None:
            continue
        block = Block(f"Lemma {n}: {lemma.title}", lemma.description, lemma.lhs, main.rows, lemma.conditions,
                      kind="lemma", name=lemma.name)
        body += _block(block, partial(latex_of, display=display_of(lemma)), lemma.result)
    return _frame(body)


# ------------------------------------------------------------------ verify's report

def _check_row(c) -> str:
    verdict = "ok" if c.ok else "fail"
    where = f"step {c.step}" if c.step is not None else "result"
    detail = _e(c.message)
    if c.counterexample:
        items = "".join(f"<li>{_e(k)}: <code>{_e(v)}</code></li>" for k, v in c.counterexample.items())
        detail += f"<details><summary>counterexample</summary><ul>{items}</ul></details>"
    return (f'<tr class="{verdict}"><td><span class="tag">{"ok" if c.ok else "FAIL"}</span></td>'
            f"<td>{_e(where)}</td><td>{_e(c.rule)}</td><td>{_e(c.method)}</td><td>{c.cases}</td>"
            f"<td>{_e(', '.join(map(str, c.Ks)))}</td><td>{c.max_error:.1e}</td><td>{detail}</td></tr>")


_HEAD = "<tr><th></th><th>claim</th><th>rule</th><th>method</th><th>cases</th><th>K</th><th>max error</th><th></th></tr>"


def report_html(report) -> str:
    """verify's report: the verdict and the K values, then each chain's checks (the derivation's own
    first; each lemma's collapsed unless one of its checks failed), each with its verdict."""
    n = len(report.checks)
    verdict = f"all {n} checks passed" if report.ok else f"{len(report.failures)} of {n} checks FAILED"
    body = [f'<p class="derive-head {"ok" if report.ok else "fail"}"><span class="tag">'
            f'{"ok" if report.ok else "FAIL"}</span> <b>verify {_e(report.name)}</b>: {verdict}'
            + (f" ({_e(report.K_text)})" if report.Ks else "") + "</p>"]
    chains: dict = {}
    for c in report.checks:
        chains.setdefault(c.derivation, []).append(c)
    for name in sorted(chains, key=lambda x: x != report.name):
        checks = chains[name]
        table = ["<table>", _HEAD, *(_check_row(c) for c in checks), "</table>"]
        if name == report.name:
            body += table
        else:
            failed = sum(not c.ok for c in checks)
            state = f"{failed} failed" if failed else "all passed"
            body += [f"<details{' open' if failed else ''}><summary>{_e(name)}: {len(checks)} checks, {state}"
                     "</summary>", *table, "</details>"]
    return _frame(body)


# ------------------------------------------------------------------ a compiled function, a catalogue entry

def compiled_html(f) -> str:
    """A compiled gradient: its signature, its arguments with their shapes, and the generated code collapsed."""
    backend = getattr(f, "backend", "numpy")
    body = [f'<p class="derive-head"><b>compiled {_e(f.name)}</b> ({_e(backend)})</p>',
            f"<p><code>{_e(repr(f))}</code></p>"]
    doc = (type(f).__doc__ if f.__doc__ is None else f.__doc__) or ""
    if doc:
        body.append(f"<pre>{_e(doc.strip())}</pre>")
    source = getattr(f, "source", "")
    if source:
        body.append(f"<details><summary>generated code</summary><pre>{_e(source)}</pre></details>")
    return _frame(body)


def entry_html(e) -> str:
    """A catalogue entry: its name, what it derives, its reference, and how to build it."""
    body = [f'<p class="derive-head"><b>{_e(e.name)}</b> &mdash; {_prose(e.description)}</p>',
            f"<p>reference: {_e(e.reference)}</p>" if e.reference else "",
            f'<p><code>derive.entry("{_e(e.name)}")()</code> builds it; <code>derive show {_e(e.name)}</code> '
            "prints it.</p>"]
    return _frame([x for x in body if x])


# ------------------------------------------------------------------ derive check's report

def check_report_html(report) -> str:
    """derive check's report: the counts, then every claim (line, verdict, the claim as the document wrote
    it, why) with the first wrong one marked; the reasons and counterexamples as the text report words them."""
    from ..checking.report import LABEL, _counter, tally
    first = report.first_wrong
    verdict = "fail" if first is not None else "ok"
    body = [f'<p class="derive-head {verdict}"><span class="tag">{"WRONG" if first else "ok"}</span> '
            f"<b>derive check {_e(report.name)}</b>: {_e(tally(report))}"
            + (f"; first wrong claim on line {first.line}" if first else "") + "</p>"]
    body += [f"<p>note: {_e(note)}</p>" for note in report.notes]
    rows = ["<table>", "<tr><th></th><th>line</th><th>claim</th><th></th></tr>"]
    for c in report.claims:
        if c.verdict == "wrong":
            detail = "counterexample " + _counter(c.counterexample or {})
            detail = _e(detail)
            if c.expected:
                detail += "; the engine derives " + document_math(c.expected_of + " = " + c.expected_latex)
        else:
            detail = _e(c.reason)
        rows.append(f'<tr class="{c.verdict}{" first" if c is first else ""}"><td><span class="tag">{LABEL[c.verdict]}'
                    f"</span></td><td>{c.line}</td><td class='claim'>{document_math(c.lhs + ' = ' + c.rhs)}</td><td>{detail}</td></tr>")
    body += rows + ["</table>"]
    return _frame(body)

