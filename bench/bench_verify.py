"""Benchmark: verify() of the whole catalogue, against the verify() of before issue 16, in one run.

    python bench/bench_verify.py               # both, every entry at its default Ks
    python bench/bench_verify.py --no-baseline  # the current verify() only
    python bench/bench_verify.py --jobs 2       # the current verify() across 2 processes as well

Each entry is built as `derive.catalogue()` lists it and verified with the
default options: the current verify() checks symbolic-K entries at K = 2..5
and one K drawn from 6..24 (with 1, K - 1, K and a random value of each free
index there), proves steps in K where it can, and measures differences per
term; the baseline, bench/verify_before16.py (derive/verify.py before issue 16,
kept importable), checks K = 2..5 only. Both start with an empty cache
(derive.verify.clear_cache() for the current one; the baseline's own caches),
so shared lemmas are only reused between entries of this run. The two do not
check the same number of cases: both counts are printed. Two two-layer network
costs (planned by derive.gradient: one example, and a batch) are timed the same
way at the end, each from an empty cache.

Nothing here passes or fails: times, case counts and ratios only.
"""
from __future__ import annotations

import argparse
import os
import platform
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)


# (label, cost, wrt, define, assume): a per-example two-layer network, and the batch one of
# tests/data/costs_from_sources.py (batch_hidden_tanh_ce_w2), whose verify took 20-65 s before issue 16.5
NETWORKS = [
    ("two-layer network", "-sum(y[j]*log(softmax(z)[j]), j)", "w",
     ["z[j] = sum(w[j, d]*tanh(a[d]), d)", "a[d] = sum(v[d, e]*x[e], e)"], []),
    ("batch two-layer network", "-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)", "w2",
     ["h[i, a] = tanh(sum(w1[a, d]*x[i, d], d))", "z[i, j] = sum(w2[j, a]*h[i, a], a)"], ["sum(y[i, j], j) = 1"]),
]


def _run(verify, entries):
    """(name, wall s, ok, cases, cpu s) per entry, and the wall and CPU totals."""
    rows, total, cpu_total = [], 0.0, 0.0
    for e in entries:
        d = e()
        t, c = time.perf_counter(), time.process_time()
        report = verify(d)
        dt, dc = time.perf_counter() - t, time.process_time() - c
        total += dt
        cpu_total += dc
        rows.append((e.name, dt, report.ok, sum(c.cases for c in report.checks), dc))
    return rows, total, cpu_total


def _one(name):
    import derive
    from derive.verify import verify
    t = time.perf_counter()
    report = verify(getattr(derive, name)())
    return name, time.perf_counter() - t, report.ok


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-baseline", action="store_true", help="skip the old implementation")
    parser.add_argument("--jobs", type=int, default=1, help="also time the current verify() over N processes")
    args = parser.parse_args()

    import derive
    from derive.verify import clear_cache, verify

    entries = derive.catalogue()
    print(f"python {platform.python_version()}, {platform.machine()}, {os.cpu_count()} cores, "
          f"load {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else "")
    clear_cache()
    new_rows, new_total, new_cpu = _run(verify, entries)
    if not args.no_baseline:
        import verify_before16 as baseline
        baseline.clear_cache()
        old_rows, old_total, old_cpu = _run(baseline.verify, entries)
    else:
        nan = float("nan")
        old_rows, old_total, old_cpu = [(r[0], nan, None, 0, nan) for r in new_rows], nan, nan

    print("times in seconds; CPU time is the figure to read on a shared machine, wall time is also shown")
    print(f"{'entry':25s} {'now cpu':>8s} {'wall':>6s} {'cases':>6s} {'before cpu':>11s} {'wall':>6s} {'cases':>6s} "
          f"{'ratio cpu':>9s}  ok now/before")
    for (name, dt, ok, cases, dc), (_, odt, ook, ocases, odc) in zip(new_rows, old_rows):
        print(f"{name:25s} {dc:8.2f} {dt:6.2f} {cases:6d} {odc:11.2f} {odt:6.2f} {ocases:6d} {odc / dc:9.2f}  {ok}/{ook}")
    print(f"{'total':25s} {new_cpu:8.2f} {new_total:6.2f} {sum(r[3] for r in new_rows):6d} {old_cpu:11.2f} "
          f"{old_total:6.2f} {sum(r[3] for r in old_rows):6d} {old_cpu / new_cpu:9.2f}")

    class Network:
        def __init__(self, name, cost, wrt, define, assume):
            self.name, self.args = name, (cost, wrt, define, assume)

        def __call__(self):
            cost, wrt, define, assume = self.args
            return derive.gradient(cost, wrt, define=define, assume=assume)
    for spec in NETWORKS:
        net = [Network(*spec)]
        clear_cache()
        (row,), _, _ = _run(verify, net)
        if not args.no_baseline:
            baseline.clear_cache()
            (orow,), _, _ = _run(baseline.verify, net)
        else:
            orow = (row[0], float("nan"), None, 0, float("nan"))
        print(f"{row[0]:25s} {row[4]:8.2f} {row[1]:6.2f} {row[3]:6d} {orow[4]:11.2f} {orow[1]:6.2f} {orow[3]:6d} "
              f"{orow[4] / row[4]:9.2f}  {row[2]}/{orow[2]}")

    if args.jobs > 1:
        from concurrent.futures import ProcessPoolExecutor
        names = [e.name for e in entries]
        # the slowest first, so that the processes finish together
        order = sorted(names, key=lambda n: -dict((r[0], r[4]) for r in new_rows)[n])
        t = time.perf_counter()
        import multiprocessing
        # spawned workers: fresh processes with empty caches (a fork would inherit this run's cache)
        with ProcessPoolExecutor(args.jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            results = list(pool.map(_one, order))
        wall = time.perf_counter() - t
        print(f"current verify() over {args.jobs} spawned processes (imports included): {wall:.2f} s wall "
              f"(all ok: {all(r[2] for r in results)}; baseline wall / this wall {old_total / wall:.2f})")


if __name__ == "__main__":
    main()
