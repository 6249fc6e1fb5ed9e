"""Render Markdown documents to one HTML page and typeset its math with KaTeX in
headless Chromium.

The Markdown is turned into HTML by markdown-it-py (CommonMark plus tables) with
mdit_py_plugins' dollarmath plugin, so the math is protected from Markdown
(`_` and `*` inside `$...$` stay TeX).  The page inlines the locally installed
KaTeX (node_modules/katex/dist: JS, CSS and the woff2 fonts as data: URIs), so it
loads no file and needs no network.  A script at the end of the page renders
every math element with ``katex.render(tex, el, {throwOnError: false, strict:
"error"})`` and writes a JSON result into ``<pre id="mathcheck-result">``; Chromium's
``--dump-dom`` prints the DOM back.  Per document the result counts:

- ``math``: math elements markdown-it-py produced,
- ``katex``: ``.katex`` elements KaTeX rendered (must equal ``math``),
- ``errors``: math elements that failed: exceptions thrown by ``katex.render``,
  ``.katex-error`` elements, and elements with text drawn in KaTeX's errorColor
  (with throwOnError false, an undefined macro like ``\foo`` is *not* a
  .katex-error: KaTeX draws just that macro in red inside a normal .katex),
- ``empty``: rendered math elements with zero height (CSS not applied).

Several documents share one page (one ``<section>`` each), so one Chromium start
serves a whole test session.

Command line (prints the JSON result, exits 1 if any document has a math error):

    python tools/mathcheck/page.py FILE.md [FILE.md ...] [--html OUT.html] [--screenshot OUT.png]
"""
from __future__ import annotations

import argparse
import base64
import html
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from markdown_it import MarkdownIt
from mdit_py_plugins.dollarmath import dollarmath_plugin

HERE = Path(__file__).resolve().parent
KATEX_DIST = HERE / "node_modules" / "katex" / "dist"

CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",
    "--hide-scrollbars",
    "--mute-audio",
]

RESULT_RE = re.compile(r'<pre id="mathcheck-result"[^>]*>(.*?)</pre>', re.S)


def markdown_parser() -> MarkdownIt:
    """CommonMark + tables + dollarmath.  Inline `$` follows pandoc's space rule:
    no whitespace after the opening or before the closing `$` (so `$5 and $6` is
    text).  Digits next to a `$` are allowed: with allow_digits=False,
    mdit_py_plugins 0.7.0 checks the character *before* a `$` at the start of a
    paragraph as src[-1], the paragraph's last character, so `$x$ costs 5` loses
    its math.  `$$...$$` inside a paragraph is display math.
    tools/mathcheck/check.mjs finds math by the same rules."""
    md = MarkdownIt("commonmark").enable("table")
    dollarmath_plugin(md, allow_space=False, allow_digits=True, double_inline=True)
    return md


def markdown_to_html(text: str) -> str:
    return markdown_parser().render(text)


def math_tokens(text: str) -> list[tuple[bool, str]]:
    """(display?, TeX) of every math token markdown-it-py finds, in document order."""
    found: list[tuple[bool, str]] = []

    def walk(tokens):
        for tok in tokens:
            if tok.type in ("math_block", "math_block_label", "math_inline_double"):
                found.append((True, tok.content.strip()))
            elif tok.type == "math_inline":
                found.append((False, tok.content.strip()))
            if tok.children:
                walk(tok.children)

    walk(markdown_parser().parse(text))
    return found


def count_math(text: str) -> dict[str, int]:
    """Math tokens markdown-it-py finds: {'display': n, 'inline': n}."""
    tokens = math_tokens(text)
    display = sum(1 for d, _ in tokens if d)
    return {"display": display, "inline": len(tokens) - display}


def _inline_fonts(css: str, dist: Path) -> str:
    """Replace each @font-face src list by its woff2 file as a data: URI."""

    def repl(m: re.Match) -> str:
        data = base64.b64encode((dist / m.group(1)).read_bytes()).decode("ascii")
        return f'src:url(data:font/woff2;base64,{data}) format("woff2")'

    out, n = re.subn(r'src:url\((fonts/[^)]+\.woff2)\) format\("woff2"\)[^;}]*', repl, css)
    if n == 0:
        raise RuntimeError("no woff2 @font-face found in katex.min.css")
    return out


RENDER_SCRIPT = r"""
(function () {
  // With throwOnError false KaTeX draws a whole failed expression as .katex-error,
  // but an undefined macro such as \foo only as text in errorColor inside an
  // otherwise normal .katex element.  A colour no document uses finds those.
  var ERROR_COLOR = '#ab0cde';
  var probe = document.createElement('span');
  probe.style.color = ERROR_COLOR;
  var errorColor = probe.style.color;
  var opts = {throwOnError: false, strict: 'error', errorColor: ERROR_COLOR};
  var out = {katexVersion: (window.katex && katex.version) || null, docs: {}, done: false};
  var sections = document.querySelectorAll('section.mathcheck-doc');
  for (var s = 0; s < sections.length; s++) {
    var sec = sections[s];
    var els = sec.querySelectorAll('.math');
    var doc = {math: els.length, katex: 0, errors: 0, thrown: 0, katexErrors: 0,
               errorColored: 0, empty: 0, failures: []};
    for (var i = 0; i < els.length; i++) {
      var el = els[i];
      var tex = el.textContent;
      var display = el.tagName === 'DIV';
      opts.displayMode = display;
      try {
        katex.render(tex, el, opts);
      } catch (e) {
        doc.thrown += 1;
        doc.failures.push({index: i, display: display, tex: tex, error: String(e && e.message || e)});
        continue;
      }
      var bad = el.querySelector('.katex-error');
      if (bad) {
        doc.katexErrors += 1;
        doc.failures.push({index: i, display: display, tex: tex,
                           error: bad.getAttribute('title') || bad.textContent});
        continue;
      }
      var colored = [];
      var nodes = el.querySelectorAll('*');
      for (var n = 0; n < nodes.length; n++) {
        var t = nodes[n].textContent;
        if (nodes[n].style && nodes[n].style.color === errorColor && colored.indexOf(t) < 0) colored.push(t);
      }
      if (colored.length) {
        doc.errorColored += 1;
        doc.failures.push({index: i, display: display, tex: tex,
                           error: 'drawn in errorColor (undefined command?): ' + colored.join(' ')});
      }
    }
    doc.katex = sec.querySelectorAll('.katex').length;
    doc.errors = doc.thrown + doc.katexErrors + doc.errorColored;
    var rendered = sec.querySelectorAll('.katex');
    for (var k = 0; k < rendered.length; k++) {
      if (rendered[k].getBoundingClientRect().height <= 0) doc.empty += 1;
    }
    out.docs[sec.getAttribute('data-name')] = doc;
  }
  var pre = document.getElementById('mathcheck-result');
  function write() { pre.textContent = JSON.stringify(out); }
  write();
  // Once the web fonts have settled, record which KaTeX faces loaded or failed.
  if (document.fonts && document.fonts.ready) {
    document.fonts.ready.then(function () {
      var loaded = [], failed = [];
      document.fonts.forEach(function (f) {
        var name = f.family.replace(/["']/g, '') + ' ' + f.weight + ' ' + f.style;
        if (f.status === 'loaded') loaded.push(name);
        else if (f.status === 'error') failed.push(name);
      });
      out.fonts = {loaded: loaded, failed: failed};
      out.done = true;
      write();
    });
  } else {
    out.done = true;
    write();
  }
})();
"""


def build_page(docs: dict[str, str], katex_dist: Path = KATEX_DIST) -> str:
    """One self-contained HTML page holding every document (name -> Markdown)."""
    katex_dist = Path(katex_dist)
    css = _inline_fonts((katex_dist / "katex.min.css").read_text(encoding="utf-8"), katex_dist)
    js = (katex_dist / "katex.min.js").read_text(encoding="utf-8")
    md = markdown_parser()
    sections = []
    for name, text in docs.items():
        sections.append(
            f'<section class="mathcheck-doc" data-name="{html.escape(name, quote=True)}">\n'
            f"{md.render(text)}</section>"
        )
    return (
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\">\n<title>mathcheck</title>\n"
        f"<style>{css}</style>\n"
        "<style>body{max-width:60em;margin:1em auto;font-family:serif}"
        ".katex-display{overflow-x:auto}</style>\n"
        f"<script>{js}</script>\n</head><body>\n"
        + "\n<hr>\n".join(sections)
        + '\n<pre id="mathcheck-result" style="display:none"></pre>\n'
        + f"<script>{RENDER_SCRIPT}</script>\n</body></html>\n"
    )


def find_chromium() -> str | None:
    for cand in (os.environ.get("CHROMIUM"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("chromium-browser")):
        if cand and os.path.isfile(cand) and os.access(cand, os.X_OK):
            return cand
    return None


def run_chromium(html_path: Path, chromium: str | None = None, timeout: float = 120,
                 screenshot: Path | None = None) -> dict:
    """Load the page in headless Chromium and return the JSON the page wrote."""
    chromium = chromium or find_chromium()
    if not chromium:
        raise FileNotFoundError("chromium not found (apt-get install chromium)")
    url = Path(html_path).resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="mathcheck-chromium-") as profile:
        base = [chromium, *CHROMIUM_FLAGS, f"--user-data-dir={profile}",
                "--virtual-time-budget=10000"]
        proc = subprocess.run([*base, "--dump-dom", url], capture_output=True, text=True,
                              timeout=timeout)
        if screenshot is not None:
            subprocess.run([*base, f"--screenshot={Path(screenshot).resolve()}",
                            "--window-size=1200,6000", url],
                           capture_output=True, text=True, timeout=timeout)
    m = RESULT_RE.search(proc.stdout)
    if proc.returncode != 0 or not m or not m.group(1).strip():
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        raise RuntimeError(
            f"chromium gave no result (exit {proc.returncode}); stderr tail:\n{tail}")
    return json.loads(html.unescape(m.group(1)))


def check_documents(docs: dict[str, str], chromium: str | None = None,
                    keep_html: Path | None = None, screenshot: Path | None = None) -> dict:
    """Build the page for `docs` (name -> Markdown), load it, return the page's result
    with each document's markdown-it-py math count added as 'expected'."""
    page = build_page(docs)
    with tempfile.TemporaryDirectory(prefix="mathcheck-page-") as tmp:
        path = Path(keep_html) if keep_html else Path(tmp) / "page.html"
        path.write_text(page, encoding="utf-8")
        result = run_chromium(path, chromium=chromium, screenshot=screenshot)
    for name, text in docs.items():
        c = count_math(text)
        if name in result.get("docs", {}):
            result["docs"][name]["expected"] = c["display"] + c["inline"]
    return result


def document_problems(doc: dict | None) -> list[str]:
    """What is wrong with one document's page result ([] when it rendered cleanly)."""
    if doc is None:
        return ["document missing from the page result"]
    problems = []
    if doc["errors"]:
        problems.append(f"{doc['errors']} math element(s) failed in KaTeX: "
                        + json.dumps(doc["failures"], ensure_ascii=False))
    if doc["katex"] != doc["math"]:
        problems.append(f"{doc['math']} math element(s) but {doc['katex']} rendered .katex element(s)")
    if "expected" in doc and doc["math"] != doc["expected"]:
        problems.append(f"page has {doc['math']} math element(s), markdown-it-py found {doc['expected']}")
    if doc["empty"]:
        problems.append(f"{doc['empty']} rendered math element(s) have zero height")
    return problems


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("files", nargs="+", type=Path)
    ap.add_argument("--html", type=Path, help="also write the page here")
    ap.add_argument("--screenshot", type=Path, help="also save a PNG of the page")
    args = ap.parse_args(argv)
    docs = {str(f): f.read_text(encoding="utf-8") for f in args.files}
    result = check_documents(docs, keep_html=args.html, screenshot=args.screenshot)
    bad = {name: document_problems(result["docs"].get(name)) for name in docs}
    bad = {k: v for k, v in bad.items() if v}
    if not result.get("done"):
        bad["(page)"] = ["the page did not finish (fonts never settled)"]
    if result.get("fonts", {}).get("failed"):
        bad["(fonts)"] = ["KaTeX fonts failed to load: " + ", ".join(result["fonts"]["failed"])]
    result["problems"] = bad
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
