"""Pieces shared by the LaTeX and Markdown renderers: escaping, and aligned rows that fit the page.

Each row of a chain is '= expression'. For KaTeX and MathJax (aligned_rows) its
reason is on a line of its own beneath it in a smaller size; on a printed page
(page_rows, pdflatex) the reason is beside the row, flush right, where both fit
on the line, and beneath it only where they do not. A row wider than the page is broken where a
reader expects it, at the outermost level first: between the terms of a sum (the
next line starts with the term's sign), between the factors of a product (the
next line starts with ``\\times``; a small bracket is never split), inside a
bracketed sum (``\\left( ... \\right.`` then ``\\left. ... \\right)``) too wide
for a line, or inside the numerator of a fraction (an aligned block in the
numerator). Breaking reads only the LaTeX the printer made; it
never touches the expression, so the printed terms, their order and their
signs are the printer's.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from ..model import Typeset
from .layout import Block, cite_text, formulas, one_line, pieces

_SPECIAL = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_",
            "{": r"\{", "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}",
            "<": r"\textless{}", ">": r"\textgreater{}", "|": r"\textbar{}"}

TEXT_WIDTH = 472.0  # pt: the room for a display in an 11pt text column (A4, 2 cm margins, less \mathindent)
EM = 10.95  # pt: one em (\quad) of the 11pt body font the widths here are counted in
# the same 472 pt on latex.PREAMBLE's page, whose body font is 10pt, counted in those 11pt ems
PAGE_WIDTH = TEXT_WIDTH * EM / 10.0
PAGE_POINTS = 10.0 / EM  # the page's pt per pt counted in 11pt ems
CONTINUE = r"\quad "  # starts a row's continuation lines, after the '&'
NOTE = r"\qquad "  # starts a row's reason, after the '&'


def escape(words: str) -> str:
    """Plain words made safe for LaTeX text mode (and KaTeX/MathJax \\text{}): one line, every character TeX
    reads as a command, group, comment or alignment written as the character it is."""
    return "".join(_SPECIAL.get(c, c) for c in one_line(words))


# ------------------------------------------------------------------ how wide a piece of LaTeX is

_TOKEN = re.compile(r"\\[A-Za-z]+|\\.|\s+|.", re.S)
_NARROW, _SLIM, _BROAD = set("ijlt.,;:!'|"), set("frs()[]/-"), set("mwMW")
_EMS = {r"\partial": .57, r"\delta": .45, r"\Theta": .78, r"\sigma": .57, r"\circ": .5, r"\log": 1.45,
        r"\quad": 1, r"\qquad": 2, "\\ ": .33, r"\,": .17, r"\;": .28, r"\:": .22, r"\!": -.17, r"\small": 0,
        r"\nolimits": 0}
_BINARY, _RELATION = {"+", "-", r"\cdot", r"\times"}, {"=", "<", ">", r"\le", r"\ge", r"\leq", r"\geq", r"\neq", r"\in"}
_TEXT_ARG = {r"\text", r"\operatorname", r"\mathrm", r"\mathbf"}


def _glyph(c: str) -> float:
    return .3 if c in _NARROW else .42 if c in _SLIM else .88 if c in _BROAD else .8 if c.isupper() else .54


def _arg(toks: list, i: int) -> int:
    """Index just after the argument starting at toks[i]: a brace group or one token (spaces skipped)."""
    while i < len(toks) and toks[i].isspace():
        i += 1
    if i < len(toks) and toks[i] == "{":
        depth = 0
        for j in range(i, len(toks)):
            depth += (toks[j] == "{") - (toks[j] == "}")
            if depth == 0:
                return j + 1
    return i + 1


def _inside(toks: list) -> list:
    return toks[1:-1] if toks and toks[0] == "{" else toks


_SCALE = (1, 1, .78, .66)  # size of display, text, script and scriptscript style (8 pt and 6 pt fonts are wider)


def width(tex: str, style: int = 0) -> float:
    """Estimated width in pt of math LaTeX ``tex`` set in ``style`` (0 display, 1 text, 2 script, 3 scriptscript).

    A heuristic over the printer's LaTeX, tuned against pdflatex's own widths of every line of the
    documents (-4% to +16%), and checked by tests/test_latex_layout.py, which compiles every
    document and fails on any line that runs off the page: glyphs from a small table of em widths,
    scripts in smaller sizes, a fraction as the wider of its two parts, a display sum as the wider
    of its sign and its limits, delimiters as tall as what they hold, \\text in roman widths, an
    aligned block as its widest line, and TeX's spacing around binary operators and relations.
    """
    return _ems(_TOKEN.findall(tex), style) * EM * 1.05  # the table runs up to 5% under pdflatex


def _ems(toks: list, style: int) -> float:
    """Width in em of math tokens in ``style`` (see width)."""
    scale, script = _SCALE[style], min(max(style, 1) + 1, 3)
    total, i, operand, delimiters = 0.0, 0, False, []
    while i < len(toks):
        t = toks[i]
        if t.isspace() or t in "{}&":
            i += 1
            continue
        w, j, is_operand = 0.0, i + 1, True
        if t == r"\frac":
            j = _arg(toks, i + 1)
            k = _arg(toks, j)
            part = min(style + 1, 3)
            w = max(_ems(_inside(toks[i + 1:j]), part), _ems(_inside(toks[j:k]), part)) + .24 / scale
            j = k
        elif t in ("^", "_"):  # a script, or a stack of a sub- and a superscript: the wider
            j = _arg(toks, i + 1)
            w = _ems(_inside(toks[i + 1:j]), script) / scale + .05
            if j < len(toks) and toks[j] in ("^", "_"):
                k = _arg(toks, j + 1)
                w = max(w, _ems(_inside(toks[j + 1:k]), script) / scale + .05)
                j = k
            is_operand = operand
        elif t == r"\sum":  # limits under and over the sign in display style, beside it otherwise (or after \nolimits)
            beside = style > 0 or (j < len(toks) and toks[j] == r"\nolimits")
            j += j < len(toks) and toks[j] == r"\nolimits"
            limits = []
            while j < len(toks) and toks[j] in ("^", "_"):
                k = _arg(toks, j + 1)
                limits.append(_ems(_inside(toks[j + 1:k]), script) / scale)
                j = k
            w = (1.44 + max(limits, default=0) if style == 0 else 1.06 + max(limits, default=0)) if beside else \
                max([1.44, *limits])
            w += .17
        elif t == r"\left":  # as tall as what it holds, with the thin space around an inner atom
            depth, k = 0, i
            while k < len(toks) and (depth := depth + (toks[k] == r"\left") - (toks[k] == r"\right")) > 0:
                k += 1
            delimiters.append(.8 if style == 0 and any(x in (r"\frac", r"\sum") for x in toks[i:k]) else .55)
            w, j = (.12 if toks[i + 1] == "." else delimiters[-1]), i + 2
            is_operand = False
        elif t == r"\right":
            w, j = (.12 if toks[i + 1] == "." else delimiters.pop() if delimiters else .55), i + 2
        elif t in _TEXT_ARG:
            j = _arg(toks, i + 1)
            w = _text_ems(_inside(toks[i + 1:j])) * (1.1 if t == r"\mathbf" else 1)
        elif t in (r"\textstyle", r"\displaystyle"):
            style, scale = (1 if t == r"\textstyle" else 0), 1
            i += 1
            continue
        elif t == r"\begin":  # an aligned block: its widest line
            j = _arg(toks, i + 1)
            end = max(k for k in range(j, len(toks)) if toks[k] == r"\end")
            rows: list = [[]]
            for x in toks[j:end]:
                if x == "\\\\":
                    rows.append([])
                else:
                    rows[-1].append(x)
            w = max(_ems(x, style) for x in rows)
            j = _arg(toks, end + 1)
        elif t in _BINARY or t in _RELATION or t == ",":
            w = .78 if t != "," else .28
            if style < 2:
                w += .44 if t in _BINARY and operand else .56 if t in _RELATION else .17 if t == "," else 0
            is_operand = False
        elif t.startswith("\\"):
            w = _EMS.get(t, .6 if len(t) > 2 else _glyph(t[1]))
            is_operand = t not in _EMS or t in (r"\partial", r"\delta", r"\Theta", r"\sigma", r"\log")
        else:
            w = _glyph(t)
            is_operand = t not in ("(", "[")
        total += w * scale
        operand = is_operand
        i = j
    return total


def _text_ems(toks: list) -> float:
    """Width in em of the argument of \\text: roman words, \\small, and $math$ (amsmath sets it in display style)."""
    total, size, i = 0.0, 1.0, 0
    while i < len(toks):
        t = toks[i]
        if t == "$":
            j = toks.index("$", i + 1)
            total += _ems(toks[i + 1:j], 0) * size
            i = j
        elif t == r"\small":
            size = .91
        elif t.isspace():
            total += .33 * size
        elif t not in "{}":
            total += _glyph(t[-1]) * size * .89  # roman letters run narrower than italic ones
        i += 1
    return total


# ------------------------------------------------------------------ breaking a row that is too wide

@dataclass
class _Paren:
    """\\left( inner \\right): a bracket that may be broken across lines."""

    open: str
    inner: list
    close: str


@dataclass
class _Frac:
    r"""\frac{num}{den}: a fraction whose numerator may be set on several lines."""

    num: list
    den: str


def _parse(toks: list, i: int = 0) -> tuple:
    """(items, index) of toks[i:] up to a \\right: strings, _Paren and _Frac."""
    items: list = []
    while i < len(toks):
        t = toks[i]
        if t == r"\right":
            break
        if t == r"\left":
            inner, j = _parse(toks, i + 2)
            items.append(_Paren(t + toks[i + 1], inner, toks[j] + toks[j + 1]))
            i = j + 2
        elif t == r"\frac":
            j = _arg(toks, i + 1)
            k = _arg(toks, j)
            items.append(_Frac(_parse(_inside(toks[i + 1:j]))[0], "".join(toks[j:k])))
            i = k
        else:
            j = _arg(toks, i) if t == "{" else _arg(toks, i + 1) if t in ("^", "_") or t in _TEXT_ARG else i + 1
            items.append("".join(toks[i:j]))
            i = j
    return items, i


def _src(items: list) -> str:
    out = []
    for x in items:
        if isinstance(x, _Paren):
            out.append(x.open + _src(x.inner) + x.close)
        elif isinstance(x, _Frac):
            out.append(r"\frac{" + _src(x.num) + "}" + x.den)
        else:
            out.append(x)
    return "".join(out)


def _terms(items: list) -> list:
    """The items split before each + or - that joins two terms (a leading sign stays with its term)."""
    terms: list = [[]]
    for x in items:
        if x in ("+", "-") and any(isinstance(y, (_Paren, _Frac)) or not y.isspace() for y in terms[-1]):
            terms.append([])
        terms[-1].append(x)
    return terms


def _lines(items: list, first: float, rest: float, style: int = 0) -> list:
    """LaTeX lines of ``items``: the first at most ``first`` pt wide, the others ``rest`` pt.

    Terms go on a line while they fit; a term that fits on no line is broken inside.
    A line that cannot be broken is returned whole (it may be wider than asked).
    """
    if width(_src(items), style) <= first:
        return [_src(items).strip()]
    lines: list = []
    line, room = "", first
    for term in _terms(items):
        text = _src(term)
        if width(line + text, style) <= room:
            line += text
            continue
        if line.strip():
            lines.append(line.strip())
            line, room = "", rest
        if width(text, style) <= room:
            line = text
            continue
        pieces = _break_term(term, room, rest, style)
        lines += pieces[:-1]
        line = pieces[-1] + " "
        room = rest if len(pieces) > 1 else room
    return [x for x in lines + [line.strip()] if x]


def _breakable(term: list, n: int, style: int) -> bool:
    """Whether term[n] may be broken across lines: a bracketed sum (or a bracket holding a bracket or a
    breakable fraction) not raised to a power, or, in display style, a fraction whose numerator is a sum or holds such a bracket (the numerator is
    then set on lines of its own, as in ((A) S - (B) C) y_j over D)."""
    x = term[n]
    after = next((y for y in term[n + 1:] if not (isinstance(y, str) and y.isspace())), "")
    if isinstance(x, _Paren):
        return x.open != r"\left." and not str(after).startswith(("^", "_")) and (
            len(_terms(x.inner)) > 1 or any(isinstance(y, _Paren) or _breakable(x.inner, m, style)
                                            for m, y in enumerate(x.inner)))  # or a bracket or fraction inside
    return isinstance(x, _Frac) and style == 0 and (
        len(_terms(x.num)) > 1 or any(_breakable(x.num, m, 1) for m in range(len(x.num))))


TIMES = r"{} \times "  # starts a line that goes on with the factors of a product broken between them


_OPERATORS = (r"\sum", r"\prod", r"\log", r"\ln", r"\exp", r"\nabla", "-", "+")


def _factors(term: list) -> list:
    """The factors of a product, as lists of items, split only where a line may break between them: before
    a factor that follows an operand, never after an operator that applies to what follows (a sign, log, a
    derivative d/dz), nor before a script (a power belongs to its base), nor inside a sum's summand (after
    \\sum, every factor is the summand's)."""
    groups: list = [[]]
    pending = True  # an operator (or the start) is waiting for its operand: no break before the next item
    for n, x in enumerate(term):
        if isinstance(x, str) and x in (r"\sum", r"\prod"):  # the rest is its summand: not broken between factors
            groups[-1] += term[n:]
            break
        if isinstance(x, str) and (x.isspace() or x.startswith(("^", "_")) or x == r"\nolimits"):
            groups[-1].append(x)
            continue
        derivative = isinstance(x, _Frac) and _src(x.num).lstrip().startswith((r"\partial", "d"))
        applied = isinstance(x, _Paren) and n > 0 and not (isinstance(term[n - 1], str) and term[n - 1].isspace())
        if not pending and not applied and groups[-1]:  # h_{k}\left(x\right): a function and its argument
            groups.append([])
        groups[-1].append(x)
        pending = derivative or (isinstance(x, str) and x.startswith(_OPERATORS))
    return groups


def _break_product(term: list, first: float, rest: float, style: int) -> list:
    """A product too wide for a line, set factor by factor on lines, each line that starts with a factor
    starting with TIMES; a factor too wide for a line of its own is broken inside, from where the line has got
    to. [] when the product has one factor."""
    groups = _factors(term)
    if len(groups) < 2:
        return []
    lines: list = []
    line, room, lead = "", first, ""
    for group in groups:
        text = _src(group)
        if not line.strip() or width(lead + line + text, style) <= room:
            if width(lead + line + text, style) <= room:
                line += text
                continue
        elif width(TIMES + text, style) <= rest:  # on a line of its own
            lines.append(lead + line.strip())
            line, room, lead = text, rest, TIMES
            continue
        # wider than a line: broken inside, starting where the line has got to
        pieces = _break_term(group, room - width(lead + line, style), rest, style, False)
        if len(pieces) == 1:  # nothing to break at: the factor on a line of its own, however wide
            if line.strip():
                lines.append(lead + line.strip())
                line, room, lead = "", rest, TIMES
            line += text
            continue
        lines += [lead + line + pieces[0], *pieces[1:-1]]
        line, room, lead = pieces[-1] + " ", rest, ""  # the product goes on after the broken factor's last line
    if line.strip():
        lines.append(lead + line.strip())
    return [x.strip() for x in lines]


def _break_term(term: list, first: float, rest: float, style: int, products: bool = True) -> list:
    """A single term too wide for a line, broken at its outermost level first: between the factors of a product
    (so never inside a small bracket such as (1 - o_k) that fits a line whole), and inside the widest bracketed
    sum or fraction only where a factor is wider than a line or the term is one factor."""
    if products:
        lines = _break_product(term, first, rest, style)
        if lines:
            return lines
    spots = [n for n in range(len(term)) if _breakable(term, n, style)]
    if not spots:
        return [_src(term).strip()]
    n = max(spots, key=lambda n: width(_src([term[n]]), style))
    before, x, after = _src(term[:n]), term[n], _src(term[n + 1:])
    if isinstance(x, _Frac):  # the numerator on several lines, in the text style it has in the fraction
        room = first - width(before + after, style) - 6
        num = _lines(x.num, room, room - EM, 1)
        if len(num) == 1:
            return [_src(term).strip()]
        body = r" \\ ".join(r"&\textstyle " + CONTINUE * bool(k) + line for k, line in enumerate(num))
        return [(before + r"\frac{\begin{aligned}" + body + r"\end{aligned}}" + x.den + after).strip()]
    inner = _lines(x.inner, first - width(before + x.open, style),
                   rest - width(CONTINUE + x.close + after, style), style)
    if len(inner) == 1:  # the inside fits on the first line, but not with what follows the bracket
        inner = _lines(x.inner, first - width(before + x.open + x.close + after, style),
                       rest - width(CONTINUE + x.close + after, style), style)
    if len(inner) == 1:  # unbroken, or broken inside a fraction of its own (a numerator set on lines)
        return [(before + x.open + inner[0] + x.close + after).strip()]
    out = []
    for k, line in enumerate(inner):  # lines inside the bracket are indented one step further
        head = before + x.open if k == 0 else CONTINUE + r"\left. " + ("{} " if line.startswith(("+", "-")) else "")
        tail = x.close + after if k == len(inner) - 1 else r" \right."
        out.append((head + line + tail).strip())
    return out


def equation(lhs: str, rhs: str, relation: str = "=", room: float = TEXT_WIDTH) -> list:
    """Aligned lines 'lhs &= rhs' with rhs broken to fit ``room`` pt; continuation lines '&\\quad ...'."""
    lead = width(f"{lhs} {relation} ")
    first = room - lead
    lines = _lines(_parse(_TOKEN.findall(rhs))[0], first, first - width(CONTINUE))
    return [f"{lhs} &{relation} {lines[0]}".lstrip(), *(f"&{CONTINUE}{x}" for x in lines[1:])]


def equations(lhs: str, forms: list, relation: str = "=", room: float = TEXT_WIDTH) -> list:
    """'lhs &= form_1 = form_2 ...' on one line when that fits ``room`` pt; otherwise each form on lines of
    its own ('&= form_2'), each broken to fit as ``equation`` breaks it."""
    joined = equation(lhs, f" {relation} ".join(forms), relation, room)
    if len(forms) == 1 or (len(joined) == 1 and width(joined[0]) <= room):
        return joined
    out = equation(lhs, forms[0], relation, room)
    for form in forms[1:]:
        out += equation("", form, relation, room)
    return out


# ------------------------------------------------------------------ rows with their reasons

def _reason_parts(row, latex, cites: str = "") -> list:
    """The reason as (kind, LaTeX) pieces, kind 'text' or 'math', in reading order;
    a ('break', '') piece marks where a reason too long for a line may be broken.
    ``cites`` is LaTeX for the lemmas the row cites (equation references); without it they are named."""
    parts = []
    typeset = isinstance(row.justification, Typeset)
    for n, words in enumerate(row.justification.split("; ")):
        if n:
            parts += [("text", ";"), ("break", "")]
        for kind, piece in pieces(Typeset(words) if typeset else words):  # 'split off the term $j = k$'
            parts.append(("text", escape(piece)) if kind == "text" else ("math", piece))
    if row.formula is not None:
        parts[-1] = ("text", parts[-1][1] + ": ")
        for n, f in enumerate(formulas(row.formula)):
            parts += [("text", ", ")] * bool(n) + [("math", latex(f))]
    if cites:
        parts.append(("text", f" {cites}"))
    elif cite_text(row):
        parts.append(("text", f" ({escape(cite_text(row))})"))
    if row.assumptions:
        parts += [("text", ";"), ("break", ""), ("text", "using ")]
        for n, a in enumerate(row.assumptions):
            parts += [("text", ", ")] * bool(n) + [("math", latex(a.statement))]
    return parts


def _small(parts: list, notes: str) -> str:
    """Pieces of a reason as LaTeX in a smaller size.

    notes="text" (pdflatex): \\text{\\small words $math$}. notes="math" (KaTeX, MathJax, Jupyter):
    {\\small \\text{words} math}, which needs no math inside \\text{}.
    """
    if notes == "text":
        inner = "".join(f"${tex}$" if kind == "math" else tex for kind, tex in parts)
        return rf"\text{{\small {inner}}}"
    out = []
    for kind, tex in parts:
        if kind == "math":
            out.append(tex)
        elif out and out[-1].startswith(r"\text{"):
            out[-1] = out[-1][:-1] + tex + "}"
        else:
            out.append(rf"\text{{{tex}}}")
    return r"{\small " + " ".join(out) + "}"


def _reason_lines(row, latex, notes: str = "math", room: float = TEXT_WIDTH) -> list:
    """The reason of a row as one or more small lines, each at most ``room`` pt wide where the words allow."""
    lines: list = []
    line: list = []
    for piece in _reason_parts(row, latex) + [("break", "")]:
        if piece[0] != "break":
            line.append(piece)
            continue
        if lines and width(_small(lines[-1] + [("text", " ")] + line, notes)) <= room:
            lines[-1] += [("text", " ")] + line
        else:
            lines.append(line)
        line = []
    for x in lines:
        if x[0][0] == "text":
            x[0] = ("text", x[0][1].lstrip())
        if x[-1][0] == "text":
            x[-1] = ("text", x[-1][1].rstrip())
    return [_small(x, notes) for x in lines]


def aligned_rows(block: Block, latex, justifications: bool = True, notes: str = "math",
                 room: float = TEXT_WIDTH) -> list:
    """The lines of an aligned chain: 'lhs &= e1 \\\\', '&\\qquad {\\small reason} \\\\', '&= e2 \\\\', ...

    Each reason is on its own line beneath its row, in a smaller size; a row too wide
    for ``room`` pt is broken (see the module docstring). ``notes`` chooses how the small
    reasons are written: "math" for KaTeX and MathJax, "text" for pdflatex.
    """
    lhs = latex(block.lhs)
    room_rhs = room - width(lhs)
    lines = []
    for n, row in enumerate(block.rows):
        head = lhs if n == 0 else ""
        lines += equation(head, latex(row.expr), row.relation.tex, room_rhs + width(head))
        if justifications:
            lines += [f"&{NOTE}{x}" for x in _reason_lines(row, latex, notes, room_rhs - width(NOTE))]
    return [x + r" \\" for x in lines[:-1]] + lines[-1:]


def definition_rows(definitions, latex, room: float = TEXT_WIDTH, labels: str = "") -> list:
    """The aligned lines of the definitions: 'o_{j} &:= ... && \\text{(softmax)}'.

    Where a definition and its note would not fit side by side, every note goes on
    its own line beneath its definition, and a long definition is broken like a row.
    With ``labels`` (for amsmath ``align``), definition N gets ``\\label{labels-N}`` on its first
    line and every other line ``\\notag``.
    """
    shown = [(latex(d.lhs), None if d.abstract else latex(d.expr), escape(d.text)) for d in definitions]
    lhs = max(width(x) for x, _, _ in shown)
    side = lhs + max(width(f"{{}} := {e}") for _, e, _ in shown if e) if any(e for _, e, _ in shown) else lhs
    number = NUMBER if labels else 0
    beside = side + 2 * EM + max(width(rf"\text{{({t})}}") for _, _, t in shown) + number <= room
    lines = []
    for n, (x, expr, words) in enumerate(shown, start=1):
        tag = rf" \label{{{labels}-{n}}}" if labels else ""
        if expr is None:
            lines.append(rf"{x} & \quad \text{{{words}}}" + r" \notag" * bool(labels))
        elif beside:
            lines.append(f"{x} &:= {expr}" + (rf" && \text{{({words})}}" if words else "") + tag)
        else:
            eq = equation(x, expr, ":=", room - number - lhs + width(x))
            notes = [rf"&{NOTE}\text{{({words})}}"] * bool(words)
            lines += [eq[0] + tag] + [y + r" \notag" * bool(labels) for y in eq[1:] + notes]
    return [x + r" \\" for x in lines[:-1]] + lines[-1:]


# ------------------------------------------------------------------ rows of a printed page (pdflatex)

SLACK = 0.03  # the share of a line a printed row (or a reason beneath it) is kept short of, for the estimate's error
GAP = 2 * EM  # pt: the least room between a row and a reason set beside it
NUMBER = 3 * EM  # pt: the room an equation number takes at the right margin
WRAP = 14 * EM  # pt: the least room beside a row for a reason wrapped on two lines


def _page_reason(row, latex, cites: str) -> str:
    """A row's reason as pdflatex text-mode material: small words, its formulas in text style, and
    ``cites`` (LaTeX such as '\\eqref{a} and \\eqref{b}') where the row cites lemmas."""
    parts = [("text", " ") if x[0] == "break" else x for x in _reason_parts(row, latex, cites)]
    inner = "".join(rf"$\textstyle {tex}$" if kind == "math" else tex for kind, tex in parts)
    return r"\small " + inner.strip()


def page_rows(block: Block, latex, justifications: bool = True, label: str = "", cite=None,
              room: float = TEXT_WIDTH, points: float = 1.0, numbered_reason: str = "") -> list:
    """The lines of a chain for an amsmath ``align`` on a printed page, each reason beside its row.

    A reason goes beside the last line of its row, flush right (``\\tag*``), where the row and the
    reason fit on the line with GAP between them; otherwise on a line of its own beneath the row
    (a ``\\parbox`` that wraps when it is longer than a line). The widths are estimates; should amsmath,
    which measures, find that a tag does not fit after all, it would set it on the next line itself
    (tests/test_latex_layout.py fails on any such tag). Rows are unnumbered (``\\notag``) except the
    last when ``label`` is given: it gets the number and ``\\label{label}``. With ``numbered_reason``, the
    name of a one-argument command that sets its argument flush right before the row's number
    (latex.PREAMBLE's ``\\withreason``), the numbered row's reason sits where every other reason does;
    without it (a fragment for another document's preamble) the reason follows the row inside the line. ``cite`` maps the lemma numbers a row cites to LaTeX (e.g.
    '\\eqref{x:lemma-1}'); without it rows name the lemmas. ``points`` is the page's pt per pt counted here
    (10/EM on a 10pt page, whose widths this module counts in 11pt ems), for the widths of boxes.
    """
    lhs = latex(block.lhs)
    room_rhs = room - width(lhs)
    lines: list = []
    for n, row in enumerate(block.rows):
        head = lhs if n == 0 else ""
        # broken short of the room by the estimate's own error (rows are counted up to 5% under their real
        # width, tests/test_latex_layout.py), so that a row the estimate just fits is not set past the margin
        eq = equation(head, latex(row.expr), row.relation.tex, (room_rhs + width(head)) * (1 - SLACK))
        numbered = n == len(block.rows) - 1 and bool(label)
        ends = [r" \notag"] * len(eq)
        if numbered:
            ends[-1] = rf" \label{{{label}}}"
        below = []
        if justifications:
            reason = _page_reason(row, latex, cite(row.cites) if cite and row.cites else "")
            wide = width(rf"\text{{{reason}}}")
            used = width(eq[-1]) + (0 if n == 0 and len(eq) == 1 else width(lhs))  # column 1 is lhs wide
            spare = room - used - GAP - (NUMBER if numbered else 0)
            # two lines of about equal length, not a full line and a word: the box a little over half the reason,
            # and never narrower than its widest formula (a formula is not broken)
            formula = max((width(tex, 1) for kind, tex in _reason_parts(row, latex) if kind == "math"), default=0)
            box = min(spare, max(.6 * wide, formula + EM, 5 * EM))
            two = rf"\parbox[t]{{{box * points:.0f}pt}}{{\raggedleft {reason}}}"
            if wide <= spare:
                if numbered and numbered_reason:
                    eq[-1] += rf" {numbered_reason}{{{reason}}}"
                elif numbered:
                    eq[-1] += rf" \qquad \text{{{reason}}}"
                else:
                    ends[-1] = rf" \tag*{{{reason}}}"
            elif (not numbered or numbered_reason) and spare >= WRAP and wide <= 1.8 * spare:  # two lines beside
                if numbered:
                    eq[-1] += rf" {numbered_reason}{{{two}}}"
                else:
                    ends[-1] = rf" \tag*{{{two}}}"
            elif width(NOTE) + wide <= room_rhs * (1 - SLACK):
                below = [rf"&{NOTE}\text{{{reason}}} \notag"]
            else:
                box = room_rhs - width(NOTE)
                below = [rf"&{NOTE}\parbox[t]{{{box * points:.0f}pt}}{{\raggedright {reason}}} \notag"]
        lines += [x + end for x, end in zip(eq, ends)] + below
    return [x + r" \\" for x in lines[:-1]] + lines[-1:]


# ------------------------------------------------------------------ rows with their reasons beside them (MathJax)

def _wrapped(row, latex, room: float) -> list:
    """The reason of a row as small lines at most ``room`` pt wide where its words allow: broken between
    words (a formula is never broken), as a paragraph wraps."""
    atoms: list = []
    for kind, tex in _reason_parts(row, latex):
        if kind == "text":
            atoms += [("text", w) for w in re.split(r"(?<= )", tex) if w]
        elif kind == "math":
            atoms.append((kind, tex))
        else:  # where two parts join ('...; using ...')
            atoms.append(("text", " "))
    lines: list = [[]]
    for atom in atoms:
        if lines[-1] and width(_small(lines[-1] + [atom], "math")) > room:
            lines.append([])
        lines[-1].append(atom)
    for x in lines:
        for end, strip in ((0, str.lstrip), (-1, str.rstrip)):
            if x[end][0] == "text":
                x[end] = ("text", strip(x[end][1]))
    return [_small([a for a in x if a[1]], "math") for x in lines]


def beside_rows(block: Block, latex, justifications: bool = True, room: float = TEXT_WIDTH) -> list:
    """The lines of an aligned chain for MathJax or KaTeX, each reason in a column beside its row:
    'lhs &= e1 && {\\small reason} \\\\', '&= e2 && {\\small reason}', ...

    The reasons' column starts after the widest row (aligned's columns are as wide as their widest
    entry), GAP from it. A reason that does not fit there on one line within ``room`` pt goes
    beneath its row, where aligned_rows sets it (wrapped between words, as a paragraph is), followed by a negative space of its estimated width
    so that it does not widen the rows' column (it runs on into the reasons' column, empty on its
    lines; \\mathrlap would say this, but MathJax lacks it by default). A row wider than its room is
    broken as everywhere else. Without justifications the rows are those of aligned_rows.
    """
    if not justifications:
        return aligned_rows(block, latex, False, "math", room)
    lhs = latex(block.lhs)
    room_rhs = room - width(lhs)
    rows, below = [], []
    for n, row in enumerate(block.rows):
        head = lhs if n == 0 else ""
        rows.append(equation(head, latex(row.expr), row.relation.tex, room_rhs + width(head)))
        below.append([rf"&{NOTE}{x}\hspace{{-{width(NOTE + x) / EM:.1f}em}}"
                      for x in _wrapped(row, latex, room_rhs - width(NOTE))])

    def wide(line: str) -> float:  # lines after the first start at column 2, lhs wide
        return width(line.replace("&", "")) + (width(lhs) if line.startswith("&") else 0)

    column = max(wide(x) for eq in rows for x in eq)
    beside = [_small([p for p in _reason_parts(row, latex) if p[0] != "break"], "math") for row in block.rows]
    lines = []
    for eq, side, under in zip(rows, beside, below):
        if column + GAP + width(side) <= room:
            lines += eq[:-1] + [f"{eq[-1]} && {side}"]
        else:
            lines += eq + under
    return [x + r" \\" for x in lines[:-1]] + lines[-1:]
