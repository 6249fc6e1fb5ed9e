"""Find the math of a Markdown or LaTeX document and cut it into chains of equalities.

Display math ($$...$$, \\[...\\], and the equation, align, gather, eqnarray
environments, starred or not, with aligned/gathered/split inside) holds the
chains, and so does inline math set apart on its own line(s) (``$...$`` with
nothing else on its lines: a post that writes its steps one per line); inline
math in a sentence ($...$, \\(...\\)) is read only for definitions and
assumptions. In a row, text after ``&&``, ``\\quad``, ``\\qquad``, ``\\text``
or ``\\tag`` is a justification, not math. Each piece keeps the 1-based line of
the input on which it starts.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Optional


@dataclass
class Piece:
    """One side of an equality: its LaTeX and the line it starts on."""

    text: str
    line: int
    column: int = 0


@dataclass
class Chain:
    """a = b = c ... (``links[i]`` is '=' or ':='), and the text that came before it in the document."""

    pieces: list
    links: list
    display: bool
    before: str = ""
    block: int = 0
    equal_one: list = field(default_factory=list)
    after: str = ""
    remarks: list = field(default_factory=list)   # what follows \\quad / \\text on its rows: "i = j", "if i != k"
    prose: str = ""   # inline math in a sentence: the words of its paragraph before it ("We have $...$")


_DISPLAY = re.compile(
    r"\$\$(?P<dd>.*?)\$\$"
    r"|\\\\\[(?P<md>.*?)\\\\\]"
    r"|(?<!\\)\\\[(?P<br>.*?)\\\]"
    r"|\\begin\{(?P<env>equation|align|gather|eqnarray|multline)(?P<star>\*?)\}(?P<body>.*?)\\end\{(?P=env)(?P=star)\}"
    r"|(?<![\\$])\$(?P<al>\s*\\begin\{aligned\}.*?\\end\{aligned\}\s*)\$"
    r"|(?m:^)[ \t]*(?:[-*+][ \t]+)?\$(?P<ol>[^$]+?)\$[ \t]*(?=\n|\Z)"   # $...$ alone on its line(s), or alone in a
    # bullet (- $f'(x) = ...$): set apart as a display
    r"|<script\s+type=[\"']math/tex;\s*mode=display[\"']\s*>(?P<sc>.*?)</script>",   # MathJax 2 in a blog's HTML
    re.DOTALL)
_INLINE = re.compile(r"(?<![\\$])\$(?P<d>[^$\n]+?)\$(?!\$)|\\\\\((?P<md>.*?)\\\\\)|(?<!\\)\\\((?P<p>.*?)\\\)"
                     r"|<script\s+type=[\"']math/tex[\"']\s*>(?P<sc>.*?)</script>", re.DOTALL)
# $$i = j$$ inside a sentence (kramdown writes inline math with $$): an index relation in the prose, not a display
_INDEX_RELATION = re.compile(r"\s*[a-z]\s*(?:=|\\neq?\b|\\not\s*=|!=)\s*[a-z]\s*")

_DROP = [
    re.compile(r"\\(?:begin|end)\{[A-Za-z*]+\}(?:\{[^{}]*\})?"),
    re.compile(r"\\(?:label|require|eqref|ref|hspace|vspace)\{[^{}]*\}"),
    re.compile(r"\\(?:nonumber|notag|blacksquare|square|qed|displaystyle|textstyle)\b"),
    # a size set at the start of a row (\\[2ex]\small = ...) is layout: the row still continues the chain
    re.compile(r"\\(?:tiny|Tiny|scriptsize|footnotesize|small|normalsize|large|Large|LARGE|huge|Huge)(?![A-Za-z])"),
]


_MATRIX = re.compile(r"\\begin\{(?P<env>[bpvBV]?matrix)\}(?P<body>.*?)\\end\{(?P=env)\}", re.DOTALL)


def _matrix(m: re.Match) -> str:
    """A written-out matrix as one factor the parser reads, \\matrix{a, b \\| c, d}, with rows and cells
    marked so that the row breaks of the block around it do not cut it; the same length, so offsets stay."""
    head = "\\matrix{"
    body = m.group("body").replace("\\\\", "\\|").replace("&", ",")
    text = head + " " * (len(m.group()) - len(head) - len(body) - 1 - len("\\end{" + m.group("env") + "}")) \
        + body + " " * len("\\end{" + m.group("env") + "}") + "}"
    assert len(text) == len(m.group())
    return text


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _blank(match_text: str) -> str:
    """Same length, newlines kept: removing markup must not move anything."""
    return re.sub(r"[^\n]", " ", match_text)


def _clean(body: str) -> str:
    """Drop environment markers and labels; turn \\stackrel{..}{=} into =; unwrap \\underbrace, \\cancel."""
    # a row broken inside brackets: "... \\right. \\\\ &\\quad \\left. {} ..." is one row
    body = re.sub(r"\\right\.\s*\\\\\s*&?(?:\s*\\q?quad)*\s*\\left\.\s*(?:\{\s*\})?",
                  lambda m: _blank(m.group()), body)
    # a long row continued on the next: "... \\\\ &\\quad - ..." is one row
    body = re.sub(r"\\\\\s*&\s*\\quad(?=\s*[-+])", lambda m: _blank(m.group()), body)
    body = _MATRIX.sub(_matrix, body)
    for pattern in _DROP:
        body = pattern.sub(lambda m: _blank(m.group()), body)
    body = re.sub(r"\\(?:underset|overset|stackrel)\s*(\{(?:[^{}]|\{(?:[^{}]|\{[^{}]*\})*\})*\})\s*(?==)",
                  lambda m: _blank(m.group()), body)   # \underset{\text{chain rule}}= : a reason under an '='
    body = _unwrap(body, r"\stackrel", keep_second=True)
    body = _unwrap(body, r"\overset", keep_second=True)
    body = _unwrap(body, r"\underbrace", keep_second=False, drop_script=True)
    body = _unwrap(body, r"\cancel", keep_second=False)
    body = _unwrap(body, r"\bcancel", keep_second=False)
    body = _unwrap(body, r"\boxed", keep_second=False)
    body = _unwrap(body, r"\bbox", keep_second=False)
    body = _unwrap(body, r"\underset", keep_second=True)
    body = _unbrace(body, "\\eqalign")
    return body


def _unbrace(body: str, command: str) -> str:
    """\\eqalign{ rows } -> its rows (the command and its braces blanked, so the rows split as in align)."""
    while True:
        n = body.find(command + "{")
        if n < 0:
            return body
        start = n + len(command)
        end = _brace_end(body, start)
        if end < 0:
            return body
        body = body[:n] + " " * (len(command) + 1) + body[start + 1:end - 1] + " " + body[end:]


def _brace_end(text: str, start: int) -> int:
    """Index just past the brace group opening at ``start`` (text[start] == '{'), or -1."""
    depth = 0
    for n in range(start, len(text)):
        if text[n] == "\\":
            continue
        if text[n] == "{" and (n == 0 or text[n - 1] != "\\"):
            depth += 1
        elif text[n] == "}" and (n == 0 or text[n - 1] != "\\"):
            depth -= 1
            if depth == 0:
                return n + 1
    return -1


def _unwrap(body: str, command: str, keep_second: bool, drop_script: bool = False) -> str:
    """\\cmd{a}{b} -> b (keep_second) or \\cmd{a} -> a, padded with spaces so offsets stay put."""
    out = body
    while True:
        n = out.find(command + "{")
        if n < 0 or (out[n + len(command) + 1 - 1] != "{"):
            return out
        first = n + len(command)
        end1 = _brace_end(out, first)
        if end1 < 0:
            return out
        if keep_second:
            if end1 >= len(out) or out[end1] != "{":
                return out
            end2 = _brace_end(out, end1)
            if end2 < 0:
                return out
            inner = out[end1 + 1:end2 - 1]
            out = out[:n] + _blank(out[n:end1 + 1]) + inner + " " + out[end2:]
        else:
            inner = out[first + 1:end1 - 1]
            rest = end1
            if drop_script:
                m = re.match(r"\s*_\s*", out[rest:])
                if m:
                    s = rest + m.end()
                    if s < len(out) and out[s] == "{":
                        e = _brace_end(out, s)
                        if e > 0:
                            rest = e
                    elif s < len(out):
                        rest = s + 1
            out = out[:n] + " " * len(command) + "(" + inner + ")" + _blank(out[end1:rest]) + out[rest:]


_FUNCTION_WORDS = r"(?i:softmax|sigmoid|logsoftmax|logsumexp|diag|max|min|log|ln|exp|tanh|relu|sign|sgn)"
_JUSTIFICATION = re.compile(r"(?<![A-Za-z\\])where\b|&&|\\quad|\\qquad|\\tag\b|\\withreason\b|\\mbox\{(?!\s*(?:log|ln|exp|e)\s*\})|\\hbox"
                            r"|\\mathrm\{where|\\text\b(?!\s*\{\s*" + _FUNCTION_WORDS + r"\s*\})")
# \text{softmax}(x)_i names a function: math, not a justification
_ROW = re.compile(r"\\\\+(?:\s*\[\s*-?[0-9.]+\s*(?:em|ex|pt|mm|cm)\s*\])?|\\newline\b|\\cr\b"
                  # A = B \quad \Rightarrow \quad C = D: two equations, the second drawn from the first
                  r"|(?:\\q?quad\s*)*\\(?:Rightarrow|Longrightarrow|implies)(?![A-Za-z])(?:\s*\\q?quad)*")


def _depths(text: str) -> list:
    """The brace depth at each character ({ and } themselves count as outside)."""
    out, depth = [], 0
    for n, c in enumerate(text):
        escaped = n > 0 and text[n - 1] == "\\"
        if c == "}" and not escaped:
            depth -= 1
        out.append(depth)
        if c == "{" and not escaped:
            depth += 1
    return out


def _rows(body: str, offset: int):
    """(row text, absolute offset) for each row of a display block, justifications cut off. A row break or a
    \\quad inside braces (a long numerator set on two lines inside its \\frac) belongs to the formula."""
    depth = _depths(body)
    start = 0
    for m in [m for m in _ROW.finditer(body) if depth[m.start()] == 0] + [None]:
        end = m.start() if m else len(body)
        row = body[start:end]
        j = next((j for j in _JUSTIFICATION.finditer(row) if depth[start + j.start()] == 0), None)
        remark = ""
        if j:
            row, remark = row[:j.start()], row[j.start():]
        yield row, offset + start, remark
        if m:
            start = m.end()


def _split_equals(row: str):
    """Split a row at '=' / ':=' outside brackets: [(piece, offset in row)], [links]."""
    depth, pieces, links, start = 0, [], [], 0
    n = 0
    while n < len(row):
        c = row[n]
        if c == "\\":
            m = re.match(r"\\(left|right|big|Big|bigg|Bigg)[lr]?\s*(\\?[()\[\]{}|.])", row[n:])
            if m:
                br = m.group(2)
                depth += 1 if br in ("(", "[", "\\{") else -1 if br in (")", "]", "\\}") else 0
                n += m.end()
                continue
            m = re.match(r"\\[{}]", row[n:])
            if m:
                depth += 1 if row[n + 1] == "{" else -1
                n += 2
                continue
            m = re.match(r"\\[A-Za-z]+", row[n:])
            n += m.end() if m else 2
            continue
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "=" and depth <= 0:
            link = "="
            cut = n
            if n > 0 and row[n - 1] == ":":
                link, cut = ":=", n - 1
            pieces.append((row[start:cut], start))
            links.append(link)
            start = n + 1
        n += 1
    pieces.append((row[start:], start))
    return pieces, links


def _strip(piece: str):
    """Remove alignment marks and trailing punctuation; (text, leading offset)."""
    text = piece.replace("&", " ")
    lead = len(text) - len(text.lstrip())
    text = text.strip()
    text = re.sub(r"(?:[.,;]|\\[,;!]|\\ )+$", "", text).strip()
    return text, lead


_CASES = re.compile(r"\\begin\{cases\}(?P<rows>.*?)\\end\{cases\}", re.DOTALL)
_OTHERWISE = re.compile(r"otherwise|else|\\text\{\s*(?:o\.w\.|elsewhere)", re.IGNORECASE)


def _cases(source: str, body: str, offset: int, before: str, number: int):
    """(chains, body) for the \\begin{cases} blocks of a display body. ``X = \\begin{cases} A & i = j \\\\ B &
    i \\ne j \\end{cases}`` is two claims, X = A said for i = j and X = B for i != j (a row 'otherwise' takes the
    other rows' condition negated); a cases block anywhere else (inside a sum) is one factor the parser does not
    read. Either way the block is blanked in the body, so that its rows and its '&' do not cut the chains."""
    out = []
    for m in list(_CASES.finditer(body)):
        head = body[:m.start()].rstrip()
        cut = max(head.rfind("\\\\"), head.rfind("&"), head.rfind("\\["), -1)
        if head.endswith("=") and "=" not in _top_level(head[max(cut, 0):-1]):
            lhs_start = max(cut + 1, 0) if cut >= 0 else 0
            if head[lhs_start:lhs_start + 2] == "\\[":
                lhs_start += 2
            lhs_text, lead = _strip(_clean(head[lhs_start:-1]))
            if not lhs_text:
                continue
            lhs = Piece(lhs_text, _line_of(source, offset + lhs_start + lead), offset + lhs_start + lead)
            rows = []
            at = m.start("rows")
            for row in re.split(r"(\\\\+)", m.group("rows")):
                if not row.startswith("\\\\") and row.strip():
                    value, _, cond = row.partition("&")
                    text, lead = _strip(_clean(value))
                    if text:
                        rows.append((Piece(text, _line_of(source, offset + at + lead), offset + at + lead), cond))
                at += len(row)
            said = [c for _, c in rows if not _OTHERWISE.search(c)]
            for piece, cond in rows:
                if _OTHERWISE.search(cond) and len(said) == 1:
                    cond = said[0].replace("=", "\\ne ", 1) if "\\ne" not in said[0] and "\\neq" not in said[0] else \
                        said[0].replace("\\neq", "=").replace("\\ne", "=")
                cond = re.sub(r"\\text\{([^{}]*)\}", r" \1 ", cond).replace("\\;", " ").replace("\\,", " ")
                out.append(Chain([lhs, piece], ["="], True, before, number, remarks=["\\quad " + cond.strip()]))
            body = body[:lhs_start] + _blank(body[lhs_start:m.end()]) + body[m.end():]
        else:
            word = "\\cases"
            body = body[:m.start()] + word + _blank(body[m.start() + len(word):m.end()]) + body[m.end():]
    return out, body


def _top_level(text: str) -> str:
    """The characters of text outside braces."""
    depth, out = 0, []
    for c in text:
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
        elif depth == 0:
            out.append(c)
    return "".join(out)


def chains(source: str) -> list:
    """Every chain of equalities in the document, display and inline, in order."""
    found: list = []
    taken = []
    last_end = 0
    branch = None   # the head a continued block ($$ = ... $$) was joined to
    for number, m in enumerate(_DISPLAY.finditer(source)):
        group = next(g for g in ("dd", "md", "br", "body", "al", "ol", "sc") if m.group(g) is not None)
        body, offset = m.group(group), m.start(group)
        if group == "dd" and _INDEX_RELATION.fullmatch(body) and _in_sentence(source, m.start(), m.end()):
            continue   # If $$i=j$$, ...: the words before the next block, which it qualifies
        before = source[last_end:m.start()]
        last_end = m.end()
        taken.append((m.start(), m.end()))
        cases, body = _cases(source, body, offset, before, number)
        head = None
        if re.match(r"\s*&?\s*=", _clean(body)) and not cases:
            # $$ = ... $$: the step continues the chain of the display before it; after prose (If $i = j$, \[ = ...
            # \] And if $i \neq j$, \[ = ... \]) a second continuation branches from where the first one did
            prose = before.strip() and not before.strip().startswith("$")
            head = branch if prose and branch is not None else \
                next((c.pieces[-1] for c in reversed(found) if c.display), None)
            branch = head
        elif any(c.display for c in found):
            branch = None
        block = cases + _block_chains(source, _clean(body), offset, True, before, number, head)
        ones = _underbraced_ones(body)
        for c in block:
            c.remarks.extend(_subscript_conditions(" ".join(p.text for p in c.pieces)))
            c.equal_one = ones
            c.after = source[m.end():m.end() + 160]
        found.extend(block)
    for m in _INLINE.finditer(source):
        if any(a <= m.start() < b for a, b in taken):
            continue
        group = next(g for g in ("d", "md", "p", "sc") if m.group(g) is not None)
        body = m.group(group)
        if "=" not in body:
            continue
        paragraph = source.rfind("\n\n", 0, m.start())
        words = source[paragraph + 2 if paragraph >= 0 else 0:m.start()]
        for part, at in _listed(_clean(body)):  # y_1 = ..., \ldots, y_K = ...: one equation per entry
            for c in _block_chains(source, part, m.start(group) + at, False, "", -1):
                c.prose = words
                found.append(c)
    found.sort(key=lambda c: (c.pieces[0].line, c.pieces[0].column))
    return found


_SUBSCRIPT_NE = re.compile(r"(?<!\\sum)(?<!\\prod)(?<!\\limits)_\{\s*([a-z])\s*(?:\\neq?(?![A-Za-z])|\\not\s*=|!=)\s*([a-z])\s*\}")


def _subscript_conditions(text: str) -> list:
    """y_{k \\not= i} on a name (not under a sum, where it excludes a term): the entry y_k, said for k != i. The
    condition qualifies the chain it is written in, as a remark \\quad k \\neq i would."""
    return sorted({f"\\quad {a} \\neq {b}" for a, b in _SUBSCRIPT_NE.findall(text)})


def _in_sentence(source: str, start: int, end: int) -> bool:
    """Words on the same line before or after source[start:end] (a formula set inside a sentence)."""
    head = source[source.rfind("\n", 0, start) + 1:start]
    tail = source[end:source.find("\n", end) if source.find("\n", end) >= 0 else len(source)]
    return bool(re.search(r"[A-Za-z]", head) or re.search(r"[A-Za-z]", tail))


def _listed(body: str) -> list:
    """The parts of inline math between commas outside brackets, each with its offset; a part that is only
    \\ldots or \\cdots is dropped. A list of equations (y_1 = ..., \\ldots, y_K = ...) is read one by one."""
    depth, start, out = 0, 0, []
    for n, c in enumerate(body + ","):
        if c in "({[":
            depth += 1
        elif c in ")}]":
            depth -= 1
        elif c == "," and depth == 0:
            part = body[start:n]
            if part.strip() not in ("\\ldots", "\\cdots", "\\dots", ""):
                out.append((part, start))
            start = n + 1
    return out if all("=" in part for part, _ in out) else [(body, 0)]


def _underbraced_ones(body: str) -> list:
    """X of every \\underbrace{X}_{= 1} (or _{\\text{equals to }1}): the author's note that X is one."""
    out = []
    for m in re.finditer(r"\\underbrace\s*\{", body):
        start = m.end() - 1
        end = _brace_end(body, start)
        if end < 0:
            continue
        script = re.match(r"\s*_\s*(\{[^{}]*(?:\{[^{}]*\}[^{}]*)*\}|\S)", body[end:])
        if script and re.search(r"(?<![0-9.])1(?![0-9])", script.group(1)):
            out.append(body[start + 1:end - 1])
    return out


def _block_chains(source: str, body: str, offset: int, display: bool, before: str, number: int,
                  head: Optional[Piece] = None) -> list:
    items: list = []  # ("break",), ("piece", Piece), ("link", "=")
    for row, row_offset, remark in _rows(body, offset):
        row_pieces, row_links = _split_equals(row)
        items.append(("break", None))
        for n, (piece, at) in enumerate(row_pieces):
            text, lead = _strip(piece)
            if text:
                absolute = row_offset + at + lead
                items.append(("piece", Piece(text, _line_of(source, absolute), absolute)))
            if n < len(row_links):
                items.append(("link", row_links[n]))
        if remark:
            items.append(("remark", remark))  # after the row's pieces: it qualifies the chain they are in
    out: list = []
    pieces: list = [head] if head is not None else []
    links: list = []
    remarks: list = []

    def flush():
        nonlocal pieces, links, remarks
        if len(pieces) >= 2:
            out.append(Chain(pieces, links, display, before, number, remarks=remarks))
        pieces, links, remarks = [], [], []

    for n, (kind, value) in enumerate(items):
        if kind == "remark":
            remarks.append(value)
        elif kind == "break":
            prev = next((k for k, _ in reversed(items[:n]) if k not in ("break", "remark")), None)
            nxt = next((k for k, _ in items[n + 1:] if k not in ("break", "remark")), None)
            if prev != "link" and nxt != "link":
                flush()
        elif kind == "link":
            if pieces and len(links) < len(pieces):
                links.append(value)
        else:
            if pieces and len(links) < len(pieces):  # two pieces with no '=' between: a new chain
                flush()
            pieces.append(value)
    flush()
    return out


_FRONT = re.compile(r"\A---[ \t]*\n(?P<body>.*?)\n---[ \t]*(?:\n|\Z)", re.DOTALL)


def front_matter(source: str) -> dict:
    """The ``define:`` and ``assume:`` lists of a Markdown file's front matter (the block between two --- lines
    at its top), each item an equation in LaTeX; other keys (title, layout) are the blog's, not ours.

        ---
        define:
          - o_j = \\frac{e^{z_j}}{\\sum_k e^{z_k}}
        assume: \\sum_j y_j = 1
        ---
    """
    m = _FRONT.match(source)
    out: dict = {"define": [], "assume": []}
    if not m:
        return out
    key = None
    for line in m.group("body").split("\n"):
        head = re.match(r"^([A-Za-z_-]+):\s*(.*?)\s*$", line)
        if head:
            key = head.group(1) if head.group(1) in out else None
            if key and head.group(2):
                out[key].append(_unquote(head.group(2)))
            continue
        item = re.match(r"^\s+-\s+(.*?)\s*$", line)
        if item and key:
            out[key].append(_unquote(item.group(1)))
    return out


def _unquote(value: str) -> str:
    """A YAML scalar written plain or in single quotes ('' is a quote); double quotes would turn \\f into an
    escape, so they are taken as written."""
    if len(value) >= 2 and value[0] == value[-1] == "'":
        return value[1:-1].replace("''", "'")
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return value[1:-1]
    return value

