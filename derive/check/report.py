"""A CheckReport as text for a terminal, and as an annotated copy of a Markdown document."""
from __future__ import annotations

MARK = {"holds": "ok", "wrong": "WRONG", "unread": "unread"}


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
        extra = "; at " + ", ".join(f"{k}={v}" for k, v in list(vals.items())[:6])
    return f"at K={ce['K']}, {where}{extra}: left side {ce['lhs']:.8g}, right side {ce['rhs']:.8g}"


def share_read(report) -> str:
    """'3 of 4 read, 75%': an unread claim never passes, so the summary says how much was read."""
    counts = report.counts()
    total = len(report.claims)
    read = counts["holds"] + counts["wrong"]
    return f"{read} of {total} read, {round(100 * read / total) if total else 100}%"


def render_text(report) -> str:
    counts = report.counts()
    lines = [f"derive check {report.name}: {len(report.claims)} claims, {counts['holds']} hold, "
             f"{counts['wrong']} wrong, {counts['unread']} unread ({share_read(report)})"]
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
        elif c.uses or c.cases:
            lines.append(f"     holds {c.reason or 'for ' + ', '.join(c.cases)}")
    if first is not None:
        lines.append(f"first wrong claim: line {first.line}")
    else:
        lines.append("no claim is wrong")
    return "\n".join(lines) + "\n"


def render_markdown(report) -> str:
    """The input with a note after each line that holds a claim, and a summary on top."""
    counts = report.counts()
    first = report.first_wrong
    by_line: dict = {}
    for c in report.claims:
        by_line.setdefault(c.line, []).append(c)
    out = [f"> **derive check**: {len(report.claims)} claims, {counts['holds']} hold, {counts['wrong']} wrong, "
           f"{counts['unread']} unread ({share_read(report)})" + (f"; first wrong claim on line {first.line}" if first else "") + ".", ""]
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
            detail = ""
            if c.verdict == "wrong":
                detail = ": counterexample " + _counter(c.counterexample or {})
                if c.expected:
                    detail += f"; the engine derives ${c.expected_of} = {c.expected_latex}$"
            elif c.verdict == "unread":
                detail = ": " + c.reason
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
