"""A CheckReport as text for a terminal, and as an annotated copy of a Markdown document."""
from __future__ import annotations

import re

MARK = {"holds": "ok", "holds_if": "holds if", "ambiguous": "AMBIGUOUS", "wrong": "WRONG", "unread": "unread"}
LABEL = {"holds": "holds", "holds_if": "holds if", "ambiguous": "ambiguous", "wrong": "wrong", "unread": "unread"}

# how the parser spells a decorated or Greek name (yhat for \hat{y}, Lcal for \mathcal{L}): printed back as the
# document wrote it
_MARKS = {"hat": "\\hat{%s}", "tilde": "\\tilde{%s}", "bar": "\\bar{%s}", "cal": "\\mathcal{%s}",
          "scr": "\\mathscr{%s}"}
_GREEK = {"alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "eta", "theta", "Theta", "lambda", "mu", "nu",
          "tau", "phi", "varphi", "psi", "omega", "Omega", "rho", "kappa", "xi", "zeta", "pi", "sigma", "ell"}


def document_latex(text: str) -> str:
    """SymPy's LaTeX with the parser's spellings of decorated names put back: \\mathit{yhat} -> \\hat{y}."""
    return re.sub(r"\\mathit\{([A-Za-z])(hat|tilde|bar|cal|scr)\}", lambda m: _MARKS[m.group(2)] % m.group(1), text)


def document_name(key: str) -> str:
    """A value's name in the document's notation: yhat[1] -> \\hat{y}_{1}, a^L[2] -> a^L_{2}, sigma -> \\sigma,
    Lcal -> \\mathcal{L}; a name it does not recognise is left as it is."""
    m = re.fullmatch(r"([A-Za-z]+)(\^[^\[\]]+)?(?:\[([^\[\]]*)\])?", key)
    if not m:
        return key
    base, sup, idx = m.group(1), m.group(2) or "", m.group(3)
    for suffix, pattern in _MARKS.items():
        if base.endswith(suffix) and len(base) == len(suffix) + 1:
            base = pattern % base[0]
            break
    else:
        if base in _GREEK:
            base = "\\" + base
    return base + sup + ("_{" + idx.replace(" ", "") + "}" if idx else "")


def _short(text: str, width: int = 70) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _counter(ce: dict) -> str:
    if not ce:
        return ""
    if "K" not in ce:
        return ce.get("message", "")
    where = ", ".join(f"{k}={v}" for k, v in ce.get("indices", {}).items()) or "no free index"
    vals = ce.get("values")
    extra = ""
    if isinstance(vals, dict) and vals:
        extra = "; at " + ", ".join(f"{document_name(k)}={v:.6g}" if isinstance(v, float) else f"{document_name(k)}={v}"
                                    for k, v in list(vals.items())[:6])
    given = f"given {ce['reading']}, " if ce.get("reading") else ""
    return f"{given}at K={ce['K']}, {where}{extra}: left side {ce['lhs']:.8g}, right side {ce['rhs']:.8g}"


def share_read(report) -> str:
    """'3 of 4 read, 75%': an unread claim never passes, so the summary says how much was read (a claim with a
    verdict, holds if and ambiguous included, is read)."""
    counts = report.counts()
    total = len(report.claims)
    read = total - counts["unread"]
    return f"{read} of {total} read, {round(100 * read / total) if total else 100}%"


def tally(report) -> str:
    """'12 claims, 9 hold, 1 holds if, 1 wrong, 1 unread (11 of 12 read, 92%)': every report's first line; holds
    if and ambiguous are named only when some claim has them."""
    counts = report.counts()
    parts = [f"{counts['holds']} hold"]
    if counts["holds_if"]:
        parts.append(f"{counts['holds_if']} {'holds' if counts['holds_if'] == 1 else 'hold'} only under a reading")
    if counts["ambiguous"]:
        parts.append(f"{counts['ambiguous']} ambiguous")
    parts += [f"{counts['wrong']} wrong", f"{counts['unread']} unread"]
    return f"{len(report.claims)} claims, {', '.join(parts)} ({share_read(report)})"


def readings_text(c) -> str:
    """A holds_if or ambiguous claim's readings: 'holds if i = j; false if i != j'."""
    return "; ".join(f"{'holds' if holds else 'false'} if {r}" for r, holds in c.readings)


def render_text(report) -> str:
    lines = [f"derive check {report.name}: {tally(report)}"]
    for note in report.notes:
        lines.append(f"  note: {note}")
    first = report.first_wrong
    for c in report.claims:
        head = ">>" if c is first else "  "
        lines.append(f"{head} line {c.line}: [{MARK[c.verdict]}] {_short(c.lhs, 40)} = {_short(c.rhs, 50)}")
        if c.verdict == "wrong":
            given = f" (given {', '.join(c.cases)})" if c.cases else ""
            if c.reason and not c.reason.startswith("sides differ"):
                lines.append(f"     {c.reason}")
            lines.append(f"     counterexample{given} {_counter(c.counterexample or {})}")
            if c.expected:
                lines.append(f"     expected: {c.expected}  (derived by the engine from {_short(c.expected_of, 40)})")
        elif c.reason and c.verdict == "unread":
            lines.append(f"     {c.reason}")
        elif c.verdict in ("holds_if", "ambiguous"):
            lines.append(f"     {'holds ' if c.verdict == 'holds_if' else ''}{c.reason}")
            if c.verdict == "ambiguous" and c.counterexample:
                lines.append(f"     where it is false: {_counter(c.counterexample)}")
        elif c.uses or c.cases:
            lines.append(f"     holds {c.reason or 'for ' + ', '.join(c.cases)}")
    if first is not None:
        lines.append(f"first wrong claim: line {first.line}")
    else:
        lines.append("no claim is wrong")
    return "\n".join(lines) + "\n"


def render_markdown(report) -> str:
    """The input with a note after each line that holds a claim, and a summary on top."""
    first = report.first_wrong
    by_line: dict = {}
    for c in report.claims:
        by_line.setdefault(c.line, []).append(c)
    out = [f"> **derive check**: {tally(report)}" + (f"; first wrong claim on line {first.line}" if first else "")
           + ".", ""]
    for note in report.notes:
        out.append(f"> note: {note}")
    if report.notes:
        out.append("")
    notes_after: dict = {}
    source_lines = report.source.split("\n")
    # a note goes after the end of the display block holding the line (so the math still renders)
    for line, claims in sorted(by_line.items()):
        end = _block_end(source_lines, line)
        notes_after.setdefault(end, []).extend(claims)
    for n, text in enumerate(source_lines, start=1):
        out.append(text)
        for c in notes_after.get(n, []):
            tag = "**first wrong claim**" if c is first else MARK[c.verdict]
            if c.verdict == "ambiguous":
                tag = "**ambiguous**"
            detail = ""
            if c.verdict == "wrong":
                detail = ": counterexample " + _counter(c.counterexample or {})
                if c.expected:
                    detail += f"; the engine derives ${c.expected_of} = {document_latex(c.expected_latex)}$"
            elif c.verdict in ("unread", "ambiguous"):
                detail = ": " + c.reason
            elif c.verdict == "holds_if":
                detail = " " + c.reason.removeprefix("if ")
            elif c.uses or c.cases:
                detail = " " + c.reason
            out.append(f"> line {c.line}: {tag}{detail}")
    return "\n".join(out)


def _block_end(lines: list, line: int) -> int:
    """The line closing the display block that contains ``line`` ($$, \\end{...}, \\]), or ``line`` itself."""
    opened = 0
    for n in range(0, line - 1):
        opened += lines[n].count("$$")
    if opened % 2 == 0 and "$$" not in lines[line - 1]:
        for n in range(line - 1, min(len(lines), line + 200)):
            if "\\end{" in lines[n] and not lines[n].strip().startswith("\\end{aligned"):
                return n + 1
        return line
    for n in range(line - 1, len(lines)):
        text = lines[n]
        count = text.count("$$")
        if n == line - 1 and opened % 2 == 0:
            count -= 1
        if count > 0:
            return n + 1
    return line


_HTML_SCRIPT = """
(function () {
  var els = document.querySelectorAll(".math");
  for (var i = 0; i < els.length; i++) {
    var el = els[i];
    try {
      katex.render(el.textContent, el, {throwOnError: false, strict: "ignore", trust: false,
                                        displayMode: el.classList.contains("display")});
    } catch (e) { el.title = String(e && e.message || e); }
  }
})();
"""

_HTML_CSS = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1.5rem auto;padding:0 1rem;line-height:1.5;color:#222}
.summary{padding:.6rem .9rem;background:#f3f3f3;border-radius:6px;margin-bottom:1rem}
.prose{white-space:pre-wrap}
.block{border-left:5px solid #bbb;padding:.1rem .8rem;margin:.6rem 0;overflow-x:auto}
.block.holds{border-color:#2a8a2a}.block.wrong{border-color:#cc2222;background:#fff4f4}.block.unread{border-color:#c9a200}
.block.holds_if{border-color:#5a9a5a;border-left-style:dashed}.block.ambiguous{border-color:#7a4fb0;background:#f8f4fd}
.verdict{font-size:.92rem;margin:.15rem 0}
.verdict .tag{display:inline-block;min-width:4.2rem;font-weight:600;border-radius:4px;padding:0 .35rem;color:#fff}
.holds .tag,.verdict.holds .tag{background:#2a8a2a}.verdict.wrong .tag{background:#cc2222}.verdict.unread .tag{background:#a58400}
.verdict.holds_if .tag{background:#4f8a4f}.verdict.ambiguous .tag{background:#7a4fb0}
.verdict.first{outline:2px solid #cc2222;border-radius:4px}
"""


def render_html(report) -> str:
    """The checked document itself, typeset with KaTeX (carried inline: no network), each display block
    framed by its worst verdict and followed by one line per claim in it (holds / wrong / unread, the reason
    and the counterexample; the same text on hover). Prose is escaped; nothing is computed here."""
    import html as _html
    from ..render.html import katex_head
    from .extract import _DISPLAY, _INLINE

    def e(words: str) -> str:
        return _html.escape(words, quote=True)

    first = report.first_wrong
    source = report.source
    starts = [0]
    for n, ch in enumerate(source):
        if ch == "\n":
            starts.append(n + 1)

    def line_of(offset: int) -> int:
        lo, hi = 0, len(starts)
        while hi - lo > 1:
            mid = (lo + hi) // 2
            lo, hi = (mid, hi) if starts[mid] <= offset else (lo, mid)
        return lo + 1

    body = [f'<div class="summary"><b>derive check</b> {e(report.name)}: {e(tally(report))}'
            + (f'; first wrong claim on line {first.line}' if first else "") + "</div>"]
    def prose(text: str) -> str:
        """Escaped prose, its inline math ($...$, \\( \\)) typeset as inline math."""
        out, at = [], 0
        for m in _INLINE.finditer(text):
            tex = next(g for g in m.groups() if g is not None)
            out.append(e(text[at:m.start()]) + f'<span class="math inline">{e(tex)}</span>')
            at = m.end()
        return "".join(out) + e(text[at:])

    placed: set = set()
    last = 0
    for m in _DISPLAY.finditer(source):
        body.append(f'<div class="prose">{prose(source[last:m.start()])}</div>')
        first_line, last_line = line_of(m.start()), line_of(m.end() - 1)
        inside = [c for c in report.claims if first_line <= c.line <= last_line and id(c) not in placed]
        placed.update(id(c) for c in inside)
        worst = next((v for v in ("wrong", "ambiguous", "unread", "holds_if", "holds")
                      if any(c.verdict == v for c in inside)), "")
        tex = m.group(0)
        if tex.startswith("$$"):
            tex = tex[2:-2]
        elif tex.startswith("\\["):
            tex = tex[2:-2]
        body.append(f'<div class="block {worst}"><span class="math display">{e(tex.strip())}</span>')
        for c in inside:
            body.append(_html_verdict(c, c is first, e))
        body.append("</div>")
        last = m.end()
    body.append(f'<div class="prose">{prose(source[last:])}</div>')
    rest = [c for c in report.claims if id(c) not in placed]  # inline claims: listed at the end
    if rest:
        body.append('<div class="block"><b>claims in inline math</b>')
        body.extend(_html_verdict(c, c is first, e) for c in rest)
        body.append("</div>")
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>derive check: {e(report.name)}</title>\n{katex_head()}<style>{_HTML_CSS}</style>\n</head>\n"
            "<body>\n<main>\n" + "\n".join(body) + f"\n</main>\n<script>{_HTML_SCRIPT}</script>\n</body>\n</html>\n")


def _html_verdict(c, is_first: bool, e) -> str:
    detail = ""
    if c.verdict == "wrong":
        detail = "counterexample " + _counter(c.counterexample or {})
        if c.expected:
            detail += f"; the engine derives {c.expected_of} = {document_latex(c.expected_latex) or c.expected}"
    elif c.verdict == "holds_if":
        detail = c.reason.removeprefix("if ")
    elif c.reason:
        detail = c.reason
    if c.verdict == "ambiguous" and c.counterexample:
        detail += "; where it is false: " + _counter(c.counterexample)
    return (f'<div class="verdict {c.verdict}{" first" if is_first else ""}" title="{e(detail)}">'
            f'<span class="tag">{LABEL[c.verdict]}</span> line {c.line}: '
            f'<span class="math inline">{e(c.lhs)} = {e(c.rhs)}</span>'
            + (f" &mdash; {e(detail)}" if detail else "") + "</div>")
