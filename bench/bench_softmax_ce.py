"""Benchmark: derive.softmax_ce against plain SymPy on the same cost, as ratios.

    python bench/bench_softmax_ce.py            # peer K in [2, 4, 8], 120 s limit per K
    python bench/bench_softmax_ce.py --full     # peer K in [2, 4, 8, 16, 32, 48]
    python bench/bench_softmax_ce.py --quick    # peer K in [2, 4], 30 s limit (smoke run)
    python bench/bench_softmax_ce.py --full --timeout 300   # a longer limit per child

The cost is E = -sum_j y_j log o_j with o = softmax(z); the quantity is dE/dz_k.
The peer is plain SymPy: explicit symbols z1..zK, y1..yK, sympy.diff then
sympy.simplify, for one component (dE/dz1) and for the full gradient (every
k = 1..K, which is what derive gives in one call). Every peer run happens in a
spawned child process with a time limit, so a run that does not finish is
reported as '> limit' instead of hanging. Section 7 times derive's own
verify() as information only (no peer, no ratio).

Nothing here passes or fails: the script prints times, RATIOS against the peer
measured in the same run, memory peaks and what SymPy did, and leaves the
judging to the reader. Standard library, numpy and sympy only.

Only the standard library is imported at module level so that the spawned
children (which re-import this file) can time their own imports.
"""
from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import platform
import queue
import statistics
import subprocess
import sys
import traceback
import tracemalloc
from time import perf_counter

DEFAULT_KS = [2, 4, 8]
FULL_KS = [2, 4, 8, 16, 32, 48]
QUICK_KS = [2, 4]
NUMERIC_KS = [10, 100]      # compiled gradient, shape (10000, K)
NUMERIC_PEER_K = 10         # the peer's lambdified gradient, this K only
NUMERIC_N = 10000
MEMORY_K = 8
READY_LIMIT = 120.0         # seconds a child may take to import sympy before it is given up


# --------------------------------------------------------------------------- formatting

def fmt_time(t: float) -> str:
    if t < 1e-3:
        return f"{t * 1e6:.0f} us"
    if t < 1.0:
        return f"{t * 1e3:.1f} ms"
    return f"{t:.2f} s"


def fmt_ratio(r: float) -> str:
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x"


def fmt_bytes(b: float) -> str:
    if b < 1024 ** 2:
        return f"{b / 1024:.0f} KiB"
    return f"{b / 1024 ** 2:.1f} MiB"


def table(headers: list, rows: list, align: str | None = None) -> str:
    """A plain-text table; align is one letter per column, 'l' or 'r' (default: first l, rest r)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "l" + "r" * (len(headers) - 1)

    def line(r):
        return "  ".join(c.ljust(w) if a == "l" else c.rjust(w) for c, w, a in zip(r, widths, align)).rstrip()

    out = [line(cells[0]), "  ".join("-" * w for w in widths)]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def section(title: str) -> None:
    print()
    print(title)
    print("=" * len(title))


# --------------------------------------------------------------------------- child processes

def _child_main(conn_queue, name: str, args: tuple) -> None:
    """Entry point of every child: import what the task needs, say 'ready', run, send results."""
    try:
        if name != "derive_cold":  # that task times its own imports
            import sympy  # noqa: F401  (imported before 'ready' so the limit covers the work only)
        conn_queue.put(("ready", None))
        TASKS[name](conn_queue, *args)
        conn_queue.put(("done", None))
    except BaseException as exc:  # report, never hang the parent
        conn_queue.put(("error", f"{type(exc).__name__}: {first_line(exc)}"))


def run_child(name: str, args: tuple, limit: float) -> dict:
    """Run TASKS[name] in a spawned child with ``limit`` seconds of work time.

    Returns {"status": "ok" | "partial" | "timeout" | "error", "results": [...], "message": str}.
    The task sends ("result", value) messages as it goes; when the limit is hit
    the child is stopped, and the status is "timeout" if nothing had arrived,
    "partial" if some results had (kept: e.g. the peer's first run finished
    but its optional repeats were cut, or diff finished and simplify did not).
    """
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child_main, args=(q, name, args), daemon=True)
    p.start()
    out = {"status": "ok", "results": [], "message": ""}
    try:
        kind, value = q.get(timeout=READY_LIMIT)
        if kind != "ready":
            return {"status": "error", "results": [], "message": str(value)}
        deadline = perf_counter() + limit
        while True:
            remaining = deadline - perf_counter()
            if remaining <= 0:
                raise queue.Empty
            kind, value = q.get(timeout=remaining)
            if kind == "result":
                out["results"].append(value)
            elif kind == "done":
                return out
            else:
                out.update(status="error", message=str(value))
                return out
    except queue.Empty:
        out["status"] = "partial" if out["results"] else "timeout"
        return out
    finally:
        if p.is_alive():
            p.terminate()
            p.join(5)
            if p.is_alive():
                p.kill()
        p.join(5)
        q.close()


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "(empty message)"


# --------------------------------------------------------------------------- child tasks

def _peer_cost(K: int):
    import sympy as sp
    z = sp.symbols(f"z1:{K + 1}")
    y = sp.symbols(f"y1:{K + 1}")
    S = sum(sp.exp(zl) for zl in z)
    E = -sum(y[j] * sp.log(sp.exp(z[j]) / S) for j in range(K))
    return z, y, E


def task_derive_cold(q) -> None:
    """Fresh process: time import of numpy+sympy, of derive, and the first softmax_ce() call."""
    t0 = perf_counter()
    import numpy  # noqa: F401
    import sympy  # noqa: F401
    t1 = perf_counter()
    import derive
    t2 = perf_counter()
    derive.softmax_ce()
    t3 = perf_counter()
    q.put(("result", {"import_np_sp": t1 - t0, "import_derive": t2 - t1, "first_call": t3 - t2}))


def task_peer(q, K: int, repeats: int, repeat_budget: float) -> None:
    """Plain SymPy: diff(E, z1) then simplify, with the SymPy cache cleared before each run."""
    import math
    import random

    import sympy as sp
    from sympy.core.cache import clear_cache
    spent = 0.0
    for i in range(repeats):
        clear_cache()
        z, y, E = _peer_cost(K)
        t0 = perf_counter()
        d = sp.diff(E, z[0])
        t1 = perf_counter()
        r = sp.simplify(d)
        t2 = perf_counter()
        result = {"diff": t1 - t0, "simplify": t2 - t1, "total": t2 - t0}
        if i == 0:
            # what the peer produced: its size, and whether it equals o_1 - y_1 at a random point
            rng = random.Random(K)
            zs = [rng.gauss(0, 1) for _ in range(K)]
            hot = rng.randrange(K)
            ys = [1.0 if j == hot else 0.0 for j in range(K)]
            m = max(zs)
            o1 = math.exp(zs[0] - m) / sum(math.exp(v - m) for v in zs)
            val = float(r.subs(dict(zip(z, zs)) | dict(zip(y, ys))).evalf())
            result.update(ops_diff=int(sp.count_ops(d)), ops_result=int(sp.count_ops(r)),
                          correct=abs(val - (o1 - ys[0])) < 1e-9)
        q.put(("result", result))
        spent += t2 - t0
        if spent > repeat_budget:
            break


def task_peer_full(q, K: int, repeats: int, repeat_budget: float) -> None:
    """Plain SymPy, the whole gradient: diff(E, z_k) then simplify for every k = 1..K.

    The SymPy cache is cleared once before each run (not between components:
    a user computing the gradient in one session keeps it). Each component
    sends its time as it finishes, so a run cut by the limit still shows how
    far it got; after the first run, every component is checked against
    o_k - y_k at a random point (outside the timed part).
    """
    import math
    import random

    import sympy as sp
    from sympy.core.cache import clear_cache
    spent = 0.0
    for i in range(repeats):
        clear_cache()
        z, y, E = _peer_cost(K)
        exprs = []
        t_run = perf_counter()
        for kk in range(K):
            t0 = perf_counter()
            d = sp.diff(E, z[kk])
            t1 = perf_counter()
            r = sp.simplify(d)
            t2 = perf_counter()
            exprs.append(r)
            q.put(("result", {"run": i, "k": kk + 1, "diff": t1 - t0, "simplify": t2 - t1, "total": t2 - t0}))
        total = perf_counter() - t_run
        q.put(("result", {"run": i, "run_total": total}))
        if i == 0:
            rng = random.Random(K)
            zs = [rng.gauss(0, 1) for _ in range(K)]
            hot = rng.randrange(K)
            ys = [1.0 if j == hot else 0.0 for j in range(K)]
            m = max(zs)
            den = sum(math.exp(v - m) for v in zs)
            point = dict(zip(z, zs)) | dict(zip(y, ys))
            ok = all(abs(float(r.subs(point).evalf()) - (math.exp(zs[kk] - m) / den - ys[kk])) < 1e-9
                     for kk, r in enumerate(exprs))
            q.put(("result", {"check": ok, "ops_max": max(int(sp.count_ops(r)) for r in exprs)}))
        spent += total
        if spent > repeat_budget:
            break


def task_peer_memory(q, K: int) -> None:
    """tracemalloc peak of the peer (build E, diff, simplify) in a fresh process."""
    import sympy as sp
    tracemalloc.start()
    z, y, E = _peer_cost(K)
    sp.simplify(sp.diff(E, z[0]))
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    q.put(("result", {"peak": peak}))


def task_derive_memory(q, K) -> None:
    """tracemalloc peak of derive.softmax_ce(K) in a fresh process (first call after import)."""
    import derive
    tracemalloc.start()
    derive.softmax_ce(K)
    current, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    q.put(("result", {"peak": peak}))


def task_indexed(q) -> None:
    """Plain SymPy on the indexed form over symbolic K: diff, then simplify; report what happened."""
    import sympy as sp
    K = sp.Symbol("K", integer=True, positive=True)
    j, l, k = sp.symbols("j l k", integer=True, positive=True)
    z, y = sp.IndexedBase("z"), sp.IndexedBase("y")
    E = -sp.Sum(y[j] * sp.log(sp.exp(z[j]) / sp.Sum(sp.exp(z[l]), (l, 1, K))), (j, 1, K))

    def describe(e) -> dict:
        return {"ops": int(sp.count_ops(e)), "length": len(str(e)),
                "Piecewise": e.has(sp.Piecewise), "Sum": e.has(sp.Sum),
                "outer_Sum": isinstance(e, sp.Sum) or (isinstance(e, sp.Mul) and any(isinstance(a, sp.Sum) for a in e.args)),
                "KroneckerDelta": e.has(sp.KroneckerDelta), "text": str(e)}

    t0 = perf_counter()
    try:
        d = sp.diff(E, z[k])
    except Exception as exc:
        q.put(("result", {"stage": "diff", "time": perf_counter() - t0, "error": type(exc).__name__,
                          "message": first_line(exc), "where": where(exc)}))
        return
    t1 = perf_counter()
    q.put(("result", {"stage": "diff", "time": t1 - t0, **describe(d)}))
    try:
        r = sp.simplify(d)
    except Exception as exc:
        q.put(("result", {"stage": "simplify", "time": perf_counter() - t1, "error": type(exc).__name__,
                          "message": first_line(exc), "where": where(exc)}))
        return
    q.put(("result", {"stage": "simplify", "time": perf_counter() - t1, **describe(r)}))


def where(exc: BaseException) -> str:
    """The innermost frame of an exception, as 'package/module.py:line in function'."""
    tb = traceback.extract_tb(exc.__traceback__)
    if not tb:
        return "?"
    f = tb[-1]
    parts = f.filename.replace("\\", "/").split("/")
    short = "/".join(parts[-3:]) if "site-packages" in f.filename else f.filename
    return f"{short}:{f.lineno} in {f.name}"


def task_peer_gradient(q, K: int) -> None:
    """The peer's whole gradient at K: diff + simplify for each class; send the expressions."""
    import sympy as sp
    z, y, E = _peer_cost(K)
    t0 = perf_counter()
    exprs = [sp.simplify(sp.diff(E, zk)) for zk in z]
    q.put(("result", {"time": perf_counter() - t0, "exprs": exprs}))


TASKS = {
    "derive_cold": task_derive_cold,
    "peer": task_peer,
    "peer_full": task_peer_full,
    "peer_memory": task_peer_memory,
    "derive_memory": task_derive_memory,
    "indexed": task_indexed,
    "peer_gradient": task_peer_gradient,
}


# --------------------------------------------------------------------------- measurements in this process

def median_time(fn, repeats: int, clear: bool) -> float:
    from sympy.core.cache import clear_cache
    times = []
    for _ in range(repeats):
        if clear:
            clear_cache()
        t0 = perf_counter()
        fn()
        times.append(perf_counter() - t0)
    return statistics.median(times)


def git_head(root: str) -> str:
    try:
        out = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--", "derive"], capture_output=True,
                               text=True, timeout=10)
        return out.stdout.strip() + (" (derive/ modified)" if dirty.stdout.strip() else "") if out.returncode == 0 else "?"
    except (OSError, subprocess.SubprocessError):
        return "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--full", action="store_true", help=f"peer K in {FULL_KS}")
    mode.add_argument("--quick", action="store_true", help=f"peer K in {QUICK_KS} and a 30 s limit (smoke run)")
    ap.add_argument("--timeout", type=float, default=None,
                    help="seconds per peer child (default 120, or 30 with --quick)")
    ap.add_argument("--repeat", type=int, default=None, help="timing repeats (default 15, or 5 with --quick)")
    opts = ap.parse_args(argv)
    ks = FULL_KS if opts.full else QUICK_KS if opts.quick else DEFAULT_KS
    limit = opts.timeout if opts.timeout is not None else (30.0 if opts.quick else 120.0)
    repeats = opts.repeat or (5 if opts.quick else 15)
    peer_repeats = 3 if opts.quick else 5
    wall0 = perf_counter()

    import numpy as np
    import sympy as sp
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

    mode_name = "full" if opts.full else "quick" if opts.quick else "default"
    print(f"bench_softmax_ce ({mode_name}): peer K = {ks}, time limit {limit:g} s per child, "
          f"{repeats} repeats for derive, up to {peer_repeats} for the peer")
    print(f"machine: {os.cpu_count()} CPUs, Python {platform.python_version()} ({platform.machine()}, "
          f"{platform.system()}), sympy {sp.__version__}, numpy {np.__version__}")
    print(f"derive at {git_head(root)}")

    # 1. derivation time of derive ----------------------------------------------------------
    cold = run_child("derive_cold", (), limit)
    import derive
    from sympy.core.cache import clear_cache
    derive.softmax_ce()  # this process's first call: lazy imports, SymPy caches
    sym_warm = median_time(lambda: derive.softmax_ce(), repeats, clear=False)
    sym_cleared = median_time(lambda: derive.softmax_ce(), repeats, clear=True)
    per_k = {n: median_time(lambda n=n: derive.softmax_ce(K=n), repeats, clear=True) for n in ks}
    clear_cache()

    section("1. Derivation time of derive (median of %d runs unless noted)" % repeats)
    rows = []
    derive_first = None
    if cold["results"]:
        c = cold["results"][0]
        derive_first = c["first_call"]
        rows.append(["import numpy + sympy (fresh process)", fmt_time(c["import_np_sp"]), "once"])
        rows.append(["import derive (after sympy)", fmt_time(c["import_derive"]), "once"])
        rows.append(["softmax_ce(), first call after import", fmt_time(c["first_call"]), "once"])
    else:
        rows.append(["fresh-process measurement", cold["status"], cold["message"]])
    rows.append(["softmax_ce(), SymPy cache warm", fmt_time(sym_warm), "median"])
    rows.append(["softmax_ce(), SymPy cache cleared each run", fmt_time(sym_cleared), "median"])
    for n in ks:
        rows.append([f"softmax_ce(K={n}), cache cleared each run", fmt_time(per_k[n]), "median"])
    print(table(["what", "time", "stat"], rows, "lrl"))
    print("target for softmax_ce(): well under 0.1 s")

    # 2. the peer, one component ---------------------------------------------------------------
    section("2. Peer, ONE component only: plain SymPy diff(E, z1) + simplify, explicit symbols (one child per K)")
    rows = []
    one_comp = {}
    for n in ks:
        res = run_child("peer", (n, peer_repeats, min(10.0, limit / 4)), limit)
        d = per_k[n]
        if res["status"] in ("ok", "partial") and res["results"]:
            runs = res["results"]
            first = runs[0]
            total = statistics.median(r["total"] for r in runs)
            one_comp[n] = fmt_time(total)
            first_ratio = fmt_ratio(first["total"] / derive_first) if derive_first else "?"
            rows.append([n, fmt_time(d), fmt_time(statistics.median(r["diff"] for r in runs)),
                         fmt_time(statistics.median(r["simplify"] for r in runs)), fmt_time(total), len(runs),
                         fmt_ratio(total / d), fmt_time(first["total"]), first_ratio,
                         f'{first["ops_diff"]} -> {first["ops_result"]}', "yes" if first["correct"] else "NO"])
        elif res["status"] == "timeout":
            one_comp[n] = f"> {limit:g} s"
            rows.append([n, fmt_time(d), "", "", f"> {limit:g} s", 0, "> " + fmt_ratio(limit / d),
                         f"> {limit:g} s", "> " + fmt_ratio(limit / derive_first) if derive_first else "", "", ""])
        else:
            one_comp[n] = "error"
            rows.append([n, fmt_time(d), "error", "", res["message"][:40], 0, "", "", "", "", ""])
    print(table(["K", "derive(K)", "peer diff", "peer simp.", "peer total", "runs", "RATIO 1 comp.",
                 "peer 1st run", "1st-run ratio", "ops diff->simp", "peer = o1-y1"], rows))
    print("ONE component (dE/dz1) only, while derive(K) gives dE/dz_k for every k. derive(K), peer diff/simp./")
    print("total: medians, SymPy cache cleared before every run on both sides; RATIO 1 comp. = peer total /")
    print("derive(K) (higher means derive is faster). 1st-run ratio = the peer's first run in its fresh child /")
    print("derive's first softmax_ce() call in a fresh child (section 1); both include SymPy's one-off lazy")
    print("work. 'peer = o1-y1': the peer's result checked at a random point.")

    # 3. the peer, full gradient ----------------------------------------------------------------
    section("3. Peer, FULL gradient: diff(E, z_k) + simplify for every k = 1..K (one child per K, limit %g s)"
            % limit)
    rows = []
    for n in ks:
        res = run_child("peer_full", (n, peer_repeats, min(10.0, limit / 4)), limit)
        d = per_k[n]
        comps = [r for r in res["results"] if "k" in r]
        run_totals = [r["run_total"] for r in res["results"] if "run_total" in r]
        checks = [r for r in res["results"] if "check" in r]
        comp_med = fmt_time(statistics.median(r["total"] for r in comps)) if comps else ""
        comp_max = fmt_time(max(r["total"] for r in comps)) if comps else ""
        if res["status"] == "error":
            rows.append([n, fmt_time(d), one_comp.get(n, ""), "error", res["message"][:40], "", "", "", "", ""])
        elif run_totals:
            total = statistics.median(run_totals)
            check = ("yes" if checks[0]["check"] else "NO") if checks else "?"
            ops = checks[0]["ops_max"] if checks else ""
            rows.append([n, fmt_time(d), one_comp.get(n, ""), len(run_totals), fmt_time(total), comp_med, comp_max,
                         fmt_ratio(total / d), check, ops])
        else:  # the first run did not finish within the limit
            done = len({r["k"] for r in comps if r["run"] == 0})
            rows.append([n, fmt_time(d), one_comp.get(n, ""), 0, f"> {limit:g} s ({done}/{n} done)", comp_med,
                         comp_max, "> " + fmt_ratio(limit / d), "", ""])
    print(table(["K", "derive(K)", "peer 1 comp.", "runs", "peer full gradient", "per comp. median",
                 "per comp. max", "RATIO full", "all = o_k-y_k", "max ops"], rows))
    print("peer full gradient: median over runs of the time for all K components, SymPy cache cleared once")
    print("before each run (kept between components, as in one session); per comp.: median and max of the")
    print("single-component times over all runs. RATIO full = peer full gradient / derive(K), both with")
    print("the cache cleared; derive(K) already gives every component. 'peer 1 comp.' repeats section 2.")
    print("'all = o_k-y_k': every component of the first run checked at a random point.")

    # 4. indexed form --------------------------------------------------------------------------
    section("4. Plain SymPy on the indexed form, symbolic K (child, limit %g s)" % limit)
    print("E = -Sum(y[j]*log(exp(z[j])/Sum(exp(z[l]),(l,1,K))),(j,1,K)); j, l, k, K integer positive")
    res = run_child("indexed", (), limit)
    calls = {"diff": "sympy.diff(E, z[k])", "simplify": "sympy.simplify(dE)"}
    stages = {r["stage"]: r for r in res["results"]}
    for stage, call in calls.items():
        r = stages.get(stage)
        if r is None:
            if res["status"] in ("timeout", "partial"):
                print(f"  {call}: did not finish within {limit:g} s (timeout; the child was stopped)")
            elif res["status"] == "error":
                print(f"  {call}: the child failed: {res['message']}")
            break
        if "error" in r:
            print(f"  {call}: raised {r['error']} after {fmt_time(r['time'])}; message: {r['message']}")
            print(f"      raised at {r['where']}")
            break
        text = r["text"] if len(r["text"]) <= 400 else r["text"][:400] + " ..."
        print(f"  {call}: returned after {fmt_time(r['time'])}: {r['ops']} ops, {r['length']} characters")
        print(f"      contains Piecewise: {r['Piecewise']}; Sum: {r['Sum']} (unreduced outer Sum: {r['outer_Sum']}); "
              f"KroneckerDelta: {r['KroneckerDelta']}")
        print(f"      {text}")
    print(f"  derive.softmax_ce() on the same form: {derive.softmax_ce().result}  ({fmt_time(sym_cleared)})")

    # 5. memory ----------------------------------------------------------------------------------
    section(f"5. Memory: tracemalloc peak, each in a fresh child process (K={MEMORY_K} for the peer)")
    rows = []
    mem = {}
    for label, task, args in (("derive.softmax_ce()", "derive_memory", (None,)),
                              (f"derive.softmax_ce(K={MEMORY_K})", "derive_memory", (MEMORY_K,)),
                              (f"peer, K={MEMORY_K}: build E, diff, simplify", "peer_memory", (MEMORY_K,))):
        res = run_child(task, args, limit)
        if res["results"]:
            mem[label] = res["results"][0]["peak"]
            rows.append([label, fmt_bytes(mem[label]), ""])
        else:
            rows.append([label, f"> {limit:g} s" if res["status"] == "timeout" else "error", res["message"][:50]])
    peer_label = rows[-1][0]
    if peer_label in mem:
        for label in list(mem)[:-1]:
            rows[[r[0] for r in rows].index(label)][2] = fmt_ratio(mem[peer_label] / mem[label])
    print(table(["what", "peak", "peer / this"], rows))
    print("tracemalloc started after the imports; the first call in the process (SymPy caches start empty).")

    # 6. numeric speed -------------------------------------------------------------------------------
    section(f"6. Numeric gradient on Z, Y of shape ({NUMERIC_N}, K), median of {repeats} calls")
    rng = np.random.default_rng(0)
    t0 = perf_counter()
    g = derive.softmax_ce().compile()
    t_compile = perf_counter() - t0
    peer = run_child("peer_gradient", (NUMERIC_PEER_K,), limit)
    rows = []
    notes = []
    for n in NUMERIC_KS:
        Z = rng.normal(size=(NUMERIC_N, n)) * 2
        Y = np.eye(n)[rng.integers(0, n, size=NUMERIC_N)]
        g(z=Z, y=Y)
        t_derive = median_time(lambda: g(z=Z, y=Y), repeats, clear=False)
        Gd = g(z=Z, y=Y)
        # an independent reference: stable softmax minus one-hot targets
        P = np.exp(Z - Z.max(-1, keepdims=True))
        P /= P.sum(-1, keepdims=True)
        ok_ref = np.allclose(Gd, P - Y)
        if n == NUMERIC_PEER_K and peer["results"]:
            p = peer["results"][0]
            zs = sp.symbols(f"z1:{n + 1}")
            ys = sp.symbols(f"y1:{n + 1}")
            t0 = perf_counter()
            f = sp.lambdify(list(zs) + list(ys), p["exprs"], modules="numpy")
            t_lambdify = perf_counter() - t0

            def peer_grad(Z=Z, Y=Y, f=f):
                return np.stack(f(*Z.T, *Y.T), axis=-1)

            peer_grad()
            t_peer = median_time(peer_grad, repeats, clear=False)
            Gp = peer_grad()
            agree = np.allclose(Gd, Gp)
            maxdiff = float(np.max(np.abs(Gd - Gp)))
            rows.append([n, fmt_time(t_derive), fmt_time(t_peer), fmt_ratio(t_peer / t_derive),
                         f"{agree} (max |diff| {maxdiff:.1e})", ok_ref])
            notes.append(f"peer at K={n}: {n} x (diff + simplify) took {fmt_time(p['time'])} in its child, "
                         f"lambdify {fmt_time(t_lambdify)}; derive: compile() {fmt_time(t_compile)}, "
                         f"the same code for every K")
        elif n == NUMERIC_PEER_K:
            status = f"> {limit:g} s (derivation)" if peer["status"] == "timeout" else "error"
            rows.append([n, fmt_time(t_derive), status, "", "", ok_ref])
        else:
            rows.append([n, fmt_time(t_derive), "not run", "", "", ok_ref])
    print(table(["K", "derive compiled", "peer lambdify", "ratio peer/derive", "allclose(derive, peer)",
                 "allclose(derive, P - Y)"], rows))
    for line in notes:
        print(line)
    print("Y is one-hot (derive's result o_k - y_k uses sum_j y_j = 1; the peer's does not need it).")

    # 7. cost of proof ------------------------------------------------------------------------------
    verify_repeats = 1 if opts.quick else 3
    section("7. derive's own cost of proof: softmax_ce().verify() (information, NOT a ratio; no peer)")
    d0 = derive.softmax_ce()
    times = []
    report = None
    for _ in range(verify_repeats):
        clear_cache()
        t0 = perf_counter()
        report = d0.verify()
        times.append(perf_counter() - t0)
    print(table(["what", "time", "stat"],
                [["softmax_ce().verify(), default options", fmt_time(statistics.median(times)),
                  f"median of {verify_repeats}" if verify_repeats > 1 else "once"],
                 ["softmax_ce(), for reference (section 1)", fmt_time(sym_cleared), "median"]], "lrl"))
    print(f"{report!r}")
    print("verify() checks every step of the chain and of its lemmas, symbolically and numerically at its")
    print("default sizes K and sample points, and the result against finite differences. SymPy cache cleared")
    print("before each run. Not compared with anything: the peer has no counterpart (it checks nothing), so")
    print("no ratio is printed.")

    wall = perf_counter() - wall0
    print()
    print(f"total wall time: {wall:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
