"""How well `derive check` reads a folder of hand derivations whose truth is known.

    PYTHONPATH=. python bench/bench_check.py FOLDER [--truth FOLDER/truth.json] [--json OUT] [--limit SECONDS]

FOLDER holds the documents (.md, .tex) and truth.json:

    {"post.md": {"first_wrong_line": 10 | null,
                 "links": [{"line": 10, "rhs": "-S_i \\times S_j", "truth": "wrong", "note": "..."}, ...]}}

Each truth link is one '=' of the document: the line its right side starts on, the start of that right side as
written, and its truth (holds, wrong, holds_if: holds under a reading the document leaves open, ambiguous: the
readings disagree). A claim of derive's report is matched to the truth link with the same line whose right side
starts the same (spaces ignored). Reported, per document and in total:

- links read: truth links matched to a claim with a verdict (holds, holds_if, ambiguous or wrong: not unread);
- wrong lines found: truth-wrong links reported wrong;
- false alarms: claims reported wrong whose link is not wrong, or that match no link of the truth (a definition
  or a condition read as a claim);
- first wrong line: the report's first wrong line is the truth's (both none counts as right);
- open readings: truth links holds_if or ambiguous whose claim has that verdict (a figure, not a fault: a link
  true only under an open reading that is reported "unread" or "holds" is no false alarm);
- unread reasons, ranked: why links were not read (no claim found for it counts as "not found").
"""
from __future__ import annotations

import argparse
import json
import re
import sys
import time
from collections import Counter
from pathlib import Path


def _norm(text: str) -> str:
    """A right-hand side as a locator: no spaces, no \\boxed/\\bbox wrapper, no brackets (derive reports a boxed
    formula unwrapped), no \\begin{cases} (derive reports a cases block row by row: its first row is the link)."""
    return re.sub(r"\s+|\\boxed|\\bbox|\\begin\{cases\}|[{}()]", "", text)


def _reason_kind(reason: str) -> str:
    """An unread reason without its positions and particulars, so that like reasons rank together."""
    r = re.sub(r"\(line \d+, column \d+\)", "", reason)
    r = re.sub(r"'[^']*'|\"[^\"]*\"", "'…'", r)
    r = re.sub(r"\b[A-Za-z]\w*(?:\^\S+)? is not defined", "X is not defined", r)
    return " ".join(r.split())[:90] or "(no reason given)"


def match(claims: list, links: list) -> tuple:
    """(pairs of (link, claim or None), claims that match no link)."""
    free = list(claims)
    pairs = []
    for link in links:
        want = _norm(link["rhs"])
        found = None
        for delta in (0, -1, 1, -2, 2):
            for c in free:
                got = _norm(c["rhs"])
                if c["line"] == link["line"] + delta and want and (got.startswith(want) or want.startswith(got) and got):
                    found = c
                    break
            if found:
                break
        if found:
            free.remove(found)
        pairs.append((link, found))
    return pairs, free


def score(name: str, report: dict, truth: dict, seconds: float) -> dict:
    pairs, extra = match(report["claims"], truth["links"])
    read = sum(1 for _, c in pairs if c is not None and c["verdict"] != "unread")
    wrong_links = [(l, c) for l, c in pairs if l["truth"] == "wrong"]
    found = sum(1 for _, c in wrong_links if c is not None and c["verdict"] == "wrong")
    alarms = [(l, c) for l, c in pairs if l["truth"] != "wrong" and c is not None and c["verdict"] == "wrong"]
    alarms += [(None, c) for c in extra if c["verdict"] == "wrong"]
    opened = [(l, c) for l, c in pairs if l["truth"] in ("holds_if", "ambiguous")]
    named = sum(1 for l, c in opened if c is not None and c["verdict"] == l["truth"])
    first = report.get("first_wrong")
    first_line = first["line"] if first else None
    reasons = Counter()
    for _, c in pairs:
        if c is None:
            reasons["not found (the link is not extracted as a claim)"] += 1
        elif c["verdict"] == "unread":
            reasons[_reason_kind(c.get("reason", ""))] += 1
    return {"document": name, "links": len(pairs), "read": read, "wrong_links": len(wrong_links),
            "wrong_found": found, "false_alarms": len(alarms), "open_links": len(opened), "open_named": named,
            "alarm_lines": [c["line"] for _, c in alarms],
            "first_wrong_right": first_line == truth.get("first_wrong_line"),
            "first_wrong": first_line, "truth_first_wrong": truth.get("first_wrong_line"),
            "reasons": dict(reasons), "seconds": round(seconds, 2)}


def _check(text: str, name: str) -> dict:
    from derive.checking import check
    return check(text, name=name).to_dict()


def _in_child(queue, text, name):
    queue.put(_check(text, name))


def _bounded(text: str, name: str, seconds: float) -> dict:
    """check() in a child process, stopped after ``seconds``: a document the checker never finishes is scored with
    every link unread ("over the bench's time limit") instead of stopping the bench."""
    import multiprocessing as mp
    ctx = mp.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue, text, name))
    child.start()
    try:
        return queue.get(timeout=seconds)
    except Exception:  # noqa: BLE001 -- queue.Empty: over the limit
        return {"claims": [], "first_wrong": None, "over_limit": True}
    finally:
        child.join(1)
        if child.is_alive():
            child.kill()
            child.join()


def run(folder: Path, truth_path: Path, progress: bool = False, limit: float = 0) -> list:
    truth = json.loads(truth_path.read_text(encoding="utf-8"))
    rows = []
    for name in sorted(truth):
        text = (folder / name).read_text(encoding="utf-8")
        start = time.perf_counter()
        report = _bounded(text, name, limit) if limit else _check(text, name)
        rows.append(score(name, report, truth[name], time.perf_counter() - start))
        if report.get("over_limit"):
            rows[-1]["reasons"] = {f"over the bench's limit of {limit:g} s per document": rows[-1]["links"]}
        if progress:
            r = rows[-1]
            print(f"{name}: {r['read']}/{r['links']} read, {r['wrong_found']}/{r['wrong_links']} wrong found, "
                  f"{r['false_alarms']} false alarms, {r['seconds']} s", file=sys.stderr, flush=True)
    return rows


def summary(rows: list) -> str:
    links = sum(r["links"] for r in rows)
    read = sum(r["read"] for r in rows)
    wl = sum(r["wrong_links"] for r in rows)
    wf = sum(r["wrong_found"] for r in rows)
    fa = sum(r["false_alarms"] for r in rows)
    fw = sum(r["first_wrong_right"] for r in rows)
    ol = sum(r.get("open_links", 0) for r in rows)
    on = sum(r.get("open_named", 0) for r in rows)
    reasons = Counter()
    for r in rows:
        reasons.update(r["reasons"])
    out = ["| document | links | read | wrong found | false alarms | first wrong (report / truth) | time |",
           "| --- | --- | --- | --- | --- | --- | --- |"]
    for r in rows:
        out.append(f"| {r['document']} | {r['links']} | {r['read']} | {r['wrong_found']}/{r['wrong_links']} | "
                   f"{r['false_alarms']} | {'right' if r['first_wrong_right'] else 'WRONG'} "
                   f"({r['first_wrong']} / {r['truth_first_wrong']}) | {r['seconds']} s |")
    out.append("")
    out.append(f"links read: {read}/{links} ({100 * read / max(links, 1):.0f}%); wrong lines found: {wf}/{wl}; "
               f"false alarms: {fa}; first wrong line right: {fw}/{len(rows)} documents; "
               f"open readings given their verdict (holds_if, ambiguous): {on}/{ol}; "
               f"time: {sum(r['seconds'] for r in rows):.1f} s")
    out.append("")
    out.append("unread reasons, ranked:")
    for reason, n in reasons.most_common():
        out.append(f"  {n:4d}  {reason}")
    return "\n".join(out)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--truth", help="the truth table (default: FOLDER/truth.json)")
    p.add_argument("--json", help="also write the rows as JSON to this file")
    p.add_argument("--quiet", action="store_true", help="no line per document on stderr as it is scored")
    p.add_argument("--limit", type=float, default=600, help="seconds per document, in a child process (0: no "
                   "child, no limit); a document over it has every link unread")
    args = p.parse_args(argv)
    folder = Path(args.folder)
    rows = run(folder, Path(args.truth) if args.truth else folder / "truth.json", progress=not args.quiet,
               limit=args.limit)
    print(summary(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
