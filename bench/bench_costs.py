"""Measure derive on every cost of tests/data/costs_from_sources.py (issue 14).

For each record: plans? (time), complete?, verify ok? (time), compiles (numpy; jax/torch if installed)?,
matches the NumPy cost's central differences?, derive's count_ops against the textbook's, and a failure
category: refused / verify fails / does not compile / wrong / too long (correct, but more than twice the
textbook's operations and 10 more) / ok.

    python bench/bench_costs.py [--timeout S] [--only ID ...] [--markdown FILE]

--markdown writes the table of docs/costs.md (id, source, cost, wrt, derive's closed form, the textbook form,
their operation counts, plan and verify times, status) to FILE.
"""
import argparse
import importlib.util
import os
import sys
import time

import numpy as np
import sympy as sp

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, ".."))   # this checkout's derive, not an installed one
sys.path.insert(0, os.path.join(HERE, "..", "tests", "data"))
import costs_from_sources as C  # noqa: E402

import derive  # noqa: E402

assert os.path.dirname(os.path.dirname(os.path.abspath(derive.__file__))) == os.path.dirname(HERE), derive.__file__

N = 3


def expected(rec, rows):
    """The per-example textbook gradients, stacked; for a shared wrt, summed over the examples."""
    g = np.stack([np.asarray(rec.numpy_gradient(r), dtype=float) for r in rows])
    fd = np.stack([C.central_difference(rec, r) for r in rows])
    if rec.wrt in rec.shared:
        return g.sum(0), fd.sum(0)
    return g, fd


def matches(got, want):
    got = np.asarray(got, dtype=float)
    if got.size != want.size:
        return False
    return np.allclose(got.reshape(want.shape), want, rtol=1e-5, atol=1e-6)


def run(rec, timeout=20.0, backends=("numpy", "jax", "torch"), seed=0):
    out = dict(id=rec.id, plans=False, t_plan=None, complete=False, verify=None, t_verify=None,
               compiles={}, fd=None, ops=None, ops_textbook=rec.textbook_ops, category=None, error="", closed="")
    t0 = time.perf_counter()
    try:
        d = derive.gradient(rec.cost, wrt=rec.wrt, assume=list(rec.assume), define=list(rec.define), timeout=timeout)
        out["plans"] = True
    except Exception as e:  # noqa: BLE001 - we measure
        out["t_plan"] = time.perf_counter() - t0
        out["category"], out["error"] = "refused", f"{type(e).__name__}: {e}".splitlines()[0][:160]
        return out
    out["t_plan"] = time.perf_counter() - t0
    out["complete"] = bool(d.complete)
    try:
        out["ops"] = int(sp.count_ops(d.result))
        matrix = getattr(d.result, "matrix", None)  # a matrix form follows its index form: "index = [matrix]"
        out["closed"] = f"{d.steps[-2].expr} = [{matrix}]" if matrix is not None else str(d.result)
    except Exception:  # noqa: BLE001
        pass
    if not d.complete:
        out["category"], out["error"] = "refused", f"incomplete: {d.incomplete}"[:160]
        return out
    t0 = time.perf_counter()
    try:
        rep = d.verify(Ks=(2, 3))
        out["verify"] = bool(rep.ok)
        if not rep.ok:
            out["error"] = str(rep).splitlines()[0][:160] if str(rep) else "verify not ok"
    except Exception as e:  # noqa: BLE001
        out["verify"] = False
        out["error"] = f"verify raised {type(e).__name__}: {e}".splitlines()[0][:160]
    out["t_verify"] = time.perf_counter() - t0
    batch, rows = C.sample(rec, np.random.default_rng(seed), N)
    want, fd = expected(rec, rows)
    for be in backends:
        if be != "numpy" and importlib.util.find_spec(be) is None:
            continue
        try:
            g = d.compile(backend=be)
            args = {k: batch[k] for k in g.inputs}
            got = np.asarray(g(**args))
            out["compiles"][be] = True
            ok = matches(got, want) and matches(got, fd)
            if be == "numpy":
                out["fd"] = ok
        except Exception as e:  # noqa: BLE001
            out["compiles"][be] = False
            if be == "numpy":
                out["error"] = out["error"] or f"compile: {type(e).__name__}: {e}".splitlines()[0][:160]
    if not out["verify"]:
        out["category"] = "verify fails"
    elif not out["compiles"].get("numpy"):
        out["category"] = "does not compile"
    elif not out["fd"]:
        out["category"] = "wrong"
    elif out["ops"] is not None and out["ops"] > max(2 * rec.textbook_ops, rec.textbook_ops + 10):
        out["category"] = "too long"
    else:
        out["category"] = "ok"
    return out


def fmt_t(t):
    return "-" if t is None else f"{t:.1f}s"


def main(argv=None):
    ap = argparse.ArgumentParser()
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--only", nargs="*")
    ap.add_argument("--markdown", help="write the docs/costs.md table to this file")
    a = ap.parse_args(argv)
    recs = [r for r in C.COSTS if not a.only or r.id in a.only]
    rows = []
    hdr = f"{'id':28s} {'plans':>7s} {'compl':>5s} {'verify':>9s} {'compiles':>16s} {'fd':>4s} {'ops':>5s} {'book':>4s}  category"
    print(hdr)
    print("-" * len(hdr))
    for rec in recs:
        r = run(rec, timeout=a.timeout)
        rows.append(r)
        comp = ",".join(f"{k[:2]}{'+' if v else '-'}" for k, v in r["compiles"].items()) or "-"
        print(f"{r['id']:28s} {('y ' if r['plans'] else 'n ') + fmt_t(r['t_plan']):>7s} {'y' if r['complete'] else 'n':>5s} "
              f"{({True: 'y ', False: 'n ', None: '- '}[r['verify']] + fmt_t(r['t_verify'])):>9s} {comp:>16s} "
              f"{({True: 'y', False: 'n', None: '-'}[r['fd']]):>4s} {str(r['ops'] if r['ops'] is not None else '-'):>5s} "
              f"{r['ops_textbook']:>4d}  {r['category']}", flush=True)
    print()
    cats = {}
    for r in rows:
        cats.setdefault(r["category"], []).append(r["id"])
    print(f"totals: {len(rows)} costs; plans {sum(r['plans'] for r in rows)}, complete {sum(r['complete'] for r in rows)}, "
          f"verify ok {sum(bool(r['verify']) for r in rows)}, compiles {sum(bool(r['compiles'].get('numpy')) for r in rows)}, "
          f"matches FD {sum(bool(r['fd']) for r in rows)}")
    for c in ("ok", "too long", "wrong", "does not compile", "verify fails", "refused"):
        ids = cats.get(c, [])
        print(f"  {c:17s} {len(ids):3d}  {' '.join(ids)}")
    print()
    for r in rows:
        if r["category"] != "ok" and r["error"]:
            print(f"  {r['id']}: {r['error']}")
    if a.markdown:
        with open(a.markdown, "w") as fh:
            fh.write(markdown(recs, rows))
    return rows


def markdown(recs, rows) -> str:
    """The table of docs/costs.md, one row per record."""
    def cell(text):
        return str(text).replace("|", "/")

    lines = ["| id | source | cost | wrt | derive's closed form | textbook form | ops | book | plan | verify | status |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for rec, r in zip(recs, rows):
        lines.append(f"| `{rec.id}` | {cell(rec.source)} | `{cell(rec.cost)}` | {rec.wrt} | `{cell(r['closed'])}` | "
                     f"`{cell(rec.textbook)}` | {r['ops'] if r['ops'] is not None else '-'} | {r['ops_textbook']} | "
                     f"{fmt_t(r['t_plan'])} | {fmt_t(r['t_verify'])} | {r['category']} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
