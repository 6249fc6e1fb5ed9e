#!/usr/bin/env node
// Render every math block of one or more Markdown files with KaTeX and MathJax 4.
//
//   node check.mjs FILE.md [FILE.md ...]   check files, print a JSON report
//   node check.mjs --self-test             show that each engine rejects broken TeX
//   node check.mjs --extract FILE.md ...   print the math found, render nothing
//
// Math is found the way markdown-it-py + mdit_py_plugins' dollarmath plugin find it
// (allow_space=False, allow_digits=True, double_inline=True; see page.py):
//   - a display block starts with `$$` at the beginning of a block (it cannot
//     interrupt a paragraph) and ends on the first later line that ends in `$$`;
//     `$$x$$` inside a paragraph is display math as well;
//   - inline math is `$...$` where the opening `$` is not followed by whitespace
//     and the closing `$` is not preceded by whitespace (so `$5 and $6` is text);
//   - nothing inside fenced code, indented code or `code spans` is math, and an
//     escaped `\$` is a dollar sign.
// The block structure is approximated line by line (paragraphs, code, headings,
// lists, quotes); tests/test_math_renders.py checks that the math found here is
// exactly the math markdown-it-py finds in each checked document.
//
// Every block is rendered with
//   (a) KaTeX renderToString({throwOnError: true, strict: "error", displayMode}),
//   (b) MathJax 4 TeX input -> SVG output, with the `noundefined` package removed
//       and a formatError hook that throws, so `\foo` is an error instead of red text.
// Exit status: 0 all blocks render in both engines, 1 some block fails, 2 usage error.

import {readFileSync, realpathSync} from 'node:fs';
import {pathToFileURL} from 'node:url';

// ---------------------------------------------------------------- extraction

const FENCE_OPEN = /^ {0,3}(`{3,}|~{3,})(.*)$/;
const LIST_ITEM = /^ {0,3}([-+*]|\d{1,9}[.)])(?:[ \t]+|$)/;
const THEMATIC = /^ {0,3}(?:(?:-[ \t]*){3,}|(?:\*[ \t]*){3,}|(?:_[ \t]*){3,})$/;
const SETEXT = /^ {0,3}(?:-+|=+)[ \t]*$/;
const HEADING = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const BLOCKQUOTE = /^ {0,3}>/;
const DISPLAY_LABEL_REV = /^\s*\)([^)$\r\n]+?)\(\s*\${2}/; // reversed `$$ (label)`

function indentWidth(line) {
  let w = 0;
  for (const ch of line) {
    if (ch === ' ') w += 1;
    else if (ch === '\t') w += 4 - (w % 4);
    else break;
  }
  return w;
}

const isBlank = (line) => line.trim() === '';
const isSpace = (ch) => ch !== undefined && /\s/u.test(ch);
const ASCII_PUNCT = /[!-/:-@[-`{-~]/;

// Is the character at `pos` preceded by an odd number of backslashes?
function escaped(src, pos) {
  let n = 0;
  for (let i = pos - 1; i >= 0 && src[i] === '\\'; i--) n++;
  return n % 2 === 1;
}

// Inline math of one paragraph (or heading) whose first line is `firstLine` (1-based).
function scanInline(src, firstLine, out) {
  const lineOf = (pos) => firstLine + (src.slice(0, pos).match(/\n/g) || []).length;
  let pos = 0;
  while (pos < src.length) {
    const ch = src[pos];
    if (ch === '\\') {
      pos += ASCII_PUNCT.test(src[pos + 1] ?? '') ? 2 : 1;
      continue;
    }
    if (ch === '`') {
      let n = 0;
      while (src[pos + n] === '`') n++;
      // a code span closes at the next run of exactly n backticks
      let search = pos + n;
      let close = -1;
      for (;;) {
        const at = src.indexOf('`'.repeat(n), search);
        if (at < 0) break;
        let m = 0;
        while (src[at + m] === '`') m++;
        if (m === n) { close = at; break; }
        search = at + m;
      }
      pos = close < 0 ? pos + n : close + n; // an unclosed run is literal text
      continue;
    }
    if (ch === '$') {
      const found = inlineDollar(src, pos);
      if (found) {
        out.push({display: found.display, tex: found.tex, line: lineOf(pos)});
        pos = found.end;
      } else {
        pos += 1;
      }
      continue;
    }
    pos += 1;
  }
}

// mdit_py_plugins.dollarmath math_inline_dollar(allow_space=False, allow_digits=True,
// allow_double=True), transcribed.
function inlineDollar(src, start) {
  if (isSpace(src[start + 1]) || src[start + 1] === undefined) return null;
  if (escaped(src, start)) return null;
  const double = src[start + 1] === '$';
  let pos = start + 1 + (double ? 1 : 0);
  let end;
  for (;;) {
    end = src.indexOf('$', pos);
    if (end < 0) return null;
    if (escaped(src, end)) { pos = end + 1; continue; }
    if (double) {
      if (src[end + 1] === undefined) return null;
      if (src[end + 1] !== '$') { pos = end + 1; continue; }
      end += 1;
    }
    break;
  }
  if (isSpace(src[end - 1])) return null;
  const tex = double ? src.slice(start + 2, end - 1) : src.slice(start + 1, end);
  if (!tex) return null;
  return {display: double, tex: tex.trim(), end: end + 1};
}

// All math of a Markdown document, in document order:
// [{display: bool, tex: string, line: 1-based line where the math starts}]
//
// A line-based approximation of markdown-it's block parser: enough to find
// paragraphs (for inline math that spans lines), code blocks, headings, list
// items and block quotes.  tests/test_math_renders.py checks that it finds exactly
// the math markdown-it-py finds in every checked document.
export function extractMath(text) {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const out = [];
  let para = null; // {lines: [], first: lineNo}
  let inList = false;
  let listIndent = 0; // columns of a list item's marker, stripped from its lines
  let prevBlank = true;
  let prevQuoted = false;

  const flush = () => {
    if (para) scanInline(para.lines.join('\n').replace(/[ \t]+$/, ''), para.first, out);
    para = null;
  };

  for (let i = 0; i < lines.length; i++) {
    let line = lines[i];
    const lineNo = i + 1;

    // entering a block quote ends a paragraph; an unquoted line after a quoted
    // paragraph continues it (lazy continuation)
    const quoted = BLOCKQUOTE.test(line);
    if (quoted) {
      if (!prevQuoted) flush();
      line = line.replace(/^(?: {0,3}>[ \t]?)+/, '');
    }
    prevQuoted = quoted;

    if (isBlank(line)) {
      flush();
      prevBlank = true;
      continue;
    }
    const indent = indentWidth(line);
    const marker = LIST_ITEM.exec(line);
    if (indent === 0 && !marker && (prevBlank || !para)) inList = false;

    // indented code block: cannot interrupt a paragraph; list content may be indented
    if (!para && !inList && indent >= 4) {
      prevBlank = false;
      continue;
    }
    prevBlank = false;

    if (para && SETEXT.test(line)) { // setext heading underline
      flush();
      continue;
    }
    if (THEMATIC.test(line)) {
      flush();
      if (indent === 0) inList = false;
      continue;
    }

    // fenced code block
    const fence = FENCE_OPEN.exec(line);
    if (fence && !(fence[1][0] === '`' && fence[2].includes('`'))) {
      flush();
      if (indent === 0) inList = false;
      const closing = new RegExp(`^ {0,3}${fence[1][0] === '`' ? '`' : '~'}{${fence[1].length},}[ \\t]*$`);
      i += 1;
      while (i < lines.length && !closing.test(lines[i])) i++;
      continue;
    }

    // ATX heading: one line of inline content
    if (HEADING.test(line)) {
      flush();
      if (indent === 0) inList = false;
      scanInline(line.replace(/^ {0,3}#{1,6}[ \t]*/, '').replace(/(?:^|[ \t]+)#+[ \t]*$/, '').trim(),
                 lineNo, out);
      continue;
    }

    let body = line;
    if (marker) {
      // a list item starts a new block, but interrupts a paragraph only if it has
      // content and is a bullet or starts at 1
      const content = line.slice(marker[0].length);
      const interrupts = content.trim() !== '' && /^(?:[-+*]|1[.)])$/.test(marker[1]);
      if (!para || interrupts) {
        flush();
        inList = true;
        listIndent = indentWidth(line) + marker[0].trimStart().length;
        body = content;
      }
    }
    if (!para) {
      body = body.replace(/^[ \t]+/, '');
      if (body === '') continue; // an empty list item
    } else {
      // markdown-it keeps a continuation line's indentation beyond the block's own
      body = body.replace(new RegExp(`^ {0,${inList ? listIndent : 0}}`), '');
    }

    // display block: `$$` opening a block (it cannot interrupt a paragraph)
    if (!para && body.startsWith('$$')) {
      const result = displayBlock(lines, i, body, quoted);
      if (result) {
        out.push({display: true, tex: result.tex, line: lineNo});
        i = result.lastLine;
        continue;
      }
    }

    if (!para) para = {lines: [], first: lineNo};
    para.lines.push(body);
  }
  flush();
  return out;
}

// mdit_py_plugins.dollarmath math_block_dollar(allow_labels=True, allow_blank_lines=True).
// Inside a block quote the block must close before the quote ends.
function displayBlock(lines, startIdx, body, quoted) {
  const first = body.trim();
  if (first.length > 3) {
    if (first.endsWith('$$')) {
      return {tex: first.slice(2, -2).trim(), lastLine: startIdx};
    }
    const label = DISPLAY_LABEL_REV.exec([...body].reverse().join(''));
    if (label) {
      const cut = body.length - label[0].length;
      return {tex: body.slice(2, cut).trim(), lastLine: startIdx};
    }
    if (body.slice(2).includes('$$')) return null; // ambiguous: not math
  }
  const parts = [body.slice(2)];
  for (let j = startIdx + 1; j < lines.length; j++) {
    let raw = lines[j];
    if (quoted) {
      if (BLOCKQUOTE.test(raw)) {
        raw = raw.replace(/^(?: {0,3}>[ \t]?)+/, '');
      } else if (isBlank(raw) || FENCE_OPEN.test(raw) || THEMATIC.test(raw) || HEADING.test(raw)
                 || LIST_ITEM.test(raw)) {
        return null; // the quote ends; an unquoted line that starts no block is lazily in it
      }
    }
    const t = raw.trim();
    if (t.endsWith('$$')) {
      parts.push(t.slice(0, -2));
      return {tex: parts.join('\n').trim(), lastLine: j};
    }
    const label = DISPLAY_LABEL_REV.exec([...t].reverse().join(''));
    if (label) {
      parts.push(t.slice(0, t.length - label[0].length));
      return {tex: parts.join('\n').trim(), lastLine: j};
    }
    parts.push(raw);
  }
  return null; // never closed: not math
}

// ---------------------------------------------------------------- engines

let katex;
let MathJax;

async function loadEngines() {
  katex = (await import('katex')).default;
  MathJax = (await import('mathjax')).default;
  await MathJax.init({
    loader: {load: ['input/tex', 'output/svg', 'adaptors/liteDOM']},
    tex: {
      // keep the default packages (base, ams, newcommand, autoload, require, ...)
      // except `noundefined`, which would draw an unknown macro in red instead of failing
      packages: {'[-]': ['noundefined']},
      formatError: (jax, err) => { throw err; },
    },
    svg: {fontCache: 'none'},
    startup: {typeset: false},
  });
  const mjVersion = MathJax.version;
  if (!/^4\./.test(mjVersion)) throw new Error(`expected MathJax 4, got ${mjVersion}`);
  return {
    katex: katex.version,
    mathjax: mjVersion,
  };
}

function renderKatex(tex, display) {
  const html = katex.renderToString(tex, {displayMode: display, throwOnError: true, strict: 'error'});
  if (html.includes('katex-error')) throw new Error('KaTeX produced a katex-error element');
}

async function renderMathJax(tex, display) {
  const node = await MathJax.tex2svgPromise(tex, {display});
  const html = MathJax.startup.adaptor.outerHTML(node);
  if (/data-mjx-error|<merror|class="merror"/.test(html)) {
    throw new Error('MathJax produced an error node');
  }
}

const ENGINES = [
  ['katex', async (tex, display) => renderKatex(tex, display)],
  ['mathjax', renderMathJax],
];

function message(err) {
  return String(err && err.message !== undefined ? err.message : err).split('\n')[0];
}

// Render every block with every engine; one failure record per (block, engine).
async function checkBlocks(file, blocks) {
  const failures = [];
  MathJax.texReset(); // macros, labels and equation numbers are per document
  for (const [index, block] of blocks.entries()) {
    for (const [engine, render] of ENGINES) {
      try {
        await render(block.tex, block.display);
      } catch (err) {
        failures.push({
          file, block: index, line: block.line,
          kind: block.display ? 'display' : 'inline',
          engine, error: message(err), tex: block.tex,
        });
      }
    }
  }
  return failures;
}

// ---------------------------------------------------------------- self-test

// Each case: TeX, display?, which engines must reject it.
const SELF_TEST = [
  ['x^2 + \\frac{a}{b}', true, []],
  ['\\begin{aligned} a &= b \\\\ &= c \\end{aligned}', true, []],
  ['\\foo{x}', true, ['katex', 'mathjax']],            // undefined macro
  ['\\foo{x}', false, ['katex', 'mathjax']],
  ['\\begin{foo} a \\end{foo}', true, ['katex', 'mathjax']], // unknown environment
  ['\\frac{a}{b', false, ['katex', 'mathjax']],        // missing brace
  ['a & b', true, ['katex', 'mathjax']],               // misplaced alignment tab
  ['\\left( x', true, ['katex', 'mathjax']],           // unbalanced \left
  ['\\bm{x}', true, ['mathjax']],                      // KaTeX knows \bm, MathJax does not
  ['é', false, ['katex']],                             // KaTeX strict mode: unicode text in math
  ['\\begin{align} a &= b \\end{align}', false, ['katex']], // align only in display (KaTeX)
];

async function selfTest() {
  const versions = await loadEngines();
  const results = [];
  let ok = true;
  for (const [tex, display, mustFail] of SELF_TEST) {
    for (const [engine, render] of ENGINES) {
      let error = null;
      try { await render(tex, display); } catch (err) { error = message(err); }
      const expected = mustFail.includes(engine) ? 'fail' : 'pass';
      const got = error === null ? 'pass' : 'fail';
      if (expected !== got) ok = false;
      results.push({tex, display, engine, expected, got, error});
    }
  }
  console.log(JSON.stringify({mode: 'self-test', versions, ok, results}, null, 2));
  return ok ? 0 : 1;
}

// ---------------------------------------------------------------- main

async function main(argv) {
  if (argv.includes('--self-test')) return selfTest();
  const files = argv.filter((a) => !a.startsWith('--'));
  if (files.length === 0) {
    console.error('usage: node check.mjs [--extract] FILE.md [FILE.md ...] | --self-test');
    return 2;
  }
  const docs = [];
  for (const file of files) {
    try {
      docs.push({file, blocks: extractMath(readFileSync(file, 'utf8'))});
    } catch (err) {
      console.error(`cannot read ${file}: ${message(err)}`);
      return 2;
    }
  }
  if (argv.includes('--extract')) {
    console.log(JSON.stringify(docs, null, 2));
    return 0;
  }
  const versions = await loadEngines();
  const report = {versions, ok: true, files: [], failures: []};
  for (const {file, blocks} of docs) {
    const started = performance.now();
    const failures = await checkBlocks(file, blocks);
    report.files.push({
      file,
      blocks: blocks.length,
      display: blocks.filter((b) => b.display).length,
      inline: blocks.filter((b) => !b.display).length,
      failed: failures.length,
      ms: Math.round(performance.now() - started),
    });
    report.failures.push(...failures);
  }
  report.ok = report.failures.length === 0;
  console.log(JSON.stringify(report, null, 2));
  return report.ok ? 0 : 1;
}

const isMain = process.argv[1] && import.meta.url === pathToFileURL(realpathSync(process.argv[1])).href;
if (isMain) {
  main(process.argv.slice(2)).then(
    (code) => { process.exitCode = code; },
    (err) => { console.error(err && err.stack ? err.stack : err); process.exitCode = 2; },
  );
}
