"""Compiled gradients against hand-written NumPy, PyTorch autograd and jax.jit(jax.grad), in one run.

    python bench/bench_compiled.py                  # threads 1 and 2, float32 and float64, 7 repeats
    python bench/bench_compiled.py --quick          # smaller sizes, 3 repeats: a smoke run
    python bench/bench_compiled.py --repeat 11 --threads 1

Each thread count runs in a child process whose BLAS, OpenMP, PyTorch and XLA thread counts are set
before the libraries load (threadpoolctl, from the [bench] extra, also caps NumPy's BLAS when
installed). Within a case the contenders run interleaved, one call each in turn, and each figure is
the median over the repeats; ratios are derive / peer from the same run (in brackets, the ratio of
the fastest rounds, less sensitive to other processes on a shared machine). Peers that are not installed
print as n/a. Peak memory is tracemalloc's peak over one call (NumPy allocations; the peers' own
allocators are not traced). The memory-bandwidth bound of softmax_ce is the bytes of Z and Y read and
G written divided by the copy bandwidth measured in the same child (np.copyto of 256 MiB).
Prints ratios, never pass/fail.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
import tracemalloc

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))


# -- hand-written NumPy peers ------------------------------------------------------

def np_softmax(S):
    S = S - S.max(axis=1, keepdims=True)
    np.exp(S, out=S)
    S /= S.sum(axis=1, keepdims=True)
    return S


def hand_softmax_ce(Z, Y):
    G = np_softmax(Z)
    G -= Y
    return G


def hand_regression(theta, X, Y):
    X1 = np.hstack([np.ones((len(X), 1), dtype=X.dtype), X])
    P = np_softmax(X1 @ theta.T)
    P -= Y
    return P.T @ X1


def hand_labels(W, X, labels):
    P = np_softmax(X @ W.T)
    P[np.arange(len(labels)), labels] -= 1
    return P.T @ X


def hand_mlp(Ws, bs, X, Y):
    acts = [X]
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = acts[-1] @ W.T + b
        acts.append(np_softmax(z) if i == len(Ws) - 1 else 1 / (1 + np.exp(-z)))
    d = acts[-1] - Y
    N = len(X)
    gW, gb = [None] * len(Ws), [None] * len(Ws)
    for n in range(len(Ws) - 1, -1, -1):
        gW[n] = d.T @ acts[n] / N
        gb[n] = d.sum(axis=0) / N
        if n:
            a = acts[n]
            d = (d @ Ws[n]) * a * (1 - a)
    return gW, gb


# -- library peers ------------------------------------------------------------------

def torch_peers():
    try:
        import torch
    except ImportError:
        return None
    F = torch.nn.functional

    def ce(Z, Y):
        z = torch.from_numpy(Z).requires_grad_(True)
        F.cross_entropy(z, torch.from_numpy(Y), reduction="sum").backward()
        return z.grad.numpy()

    def regression(theta, X, Y):
        t = torch.from_numpy(theta).requires_grad_(True)
        x = torch.from_numpy(X)
        x1 = torch.cat([torch.ones(len(X), 1, dtype=x.dtype), x], 1)
        (-(torch.from_numpy(Y) * torch.log_softmax(x1 @ t.T, 1)).sum()).backward()
        return t.grad.numpy()

    def labels(W, X, lab):
        w = torch.from_numpy(W).requires_grad_(True)
        F.cross_entropy(torch.from_numpy(X) @ w.T, torch.from_numpy(lab), reduction="sum").backward()
        return w.grad.numpy()

    def mlp(Ws, bs, X, Y):
        ws = [torch.from_numpy(W).requires_grad_(True) for W in Ws]
        bb = [torch.from_numpy(b).requires_grad_(True) for b in bs]
        a = torch.from_numpy(X)
        for i, (w, b) in enumerate(zip(ws, bb)):
            z = a @ w.T + b
            a = z if i == len(ws) - 1 else torch.sigmoid(z)
        F.cross_entropy(a, torch.from_numpy(Y), reduction="mean").backward()
        return [w.grad.numpy() for w in ws], [b.grad.numpy() for b in bb]

    return {"softmax_ce": ce, "softmax_regression": regression, "softmax_ce_labels": labels, "mlp_backprop": mlp}


def jax_peer():
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)

    def loss(Z, Y):
        return -(Y * jax.nn.log_softmax(Z, axis=-1)).sum()
    grad = jax.jit(jax.grad(loss))
    return lambda Z, Y: grad(Z, Y).block_until_ready()


# -- measuring ----------------------------------------------------------------------

def interleaved(contenders: dict, repeat: int, stat=np.median) -> dict:
    """name -> median (or ``stat``) seconds over ``repeat`` rounds, each round calling every contender once."""
    for f in contenders.values():  # warm up (and jit)
        f()
    times = {name: [] for name in contenders}
    for _ in range(repeat):
        for name, f in contenders.items():
            t = time.perf_counter()
            f()
            times[name].append(time.perf_counter() - t)
    interleaved.last = times
    return {name: float(stat(ts)) for name, ts in times.items()}


def peak_mib(f) -> float:
    tracemalloc.start()
    f()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak / 2 ** 20


def copy_bandwidth() -> float:
    """Bytes per second of np.copyto over 256 MiB (read + write counted)."""
    src = np.ones(2 ** 25)
    dst = np.empty_like(src)
    np.copyto(dst, src)
    t = min(_timed(lambda: np.copyto(dst, src)) for _ in range(5))
    return 2 * src.nbytes / t


def _timed(f) -> float:
    t = time.perf_counter()
    f()
    return time.perf_counter() - t


def child(threads: int, repeat: int, quick: bool) -> list:
    try:
        from threadpoolctl import threadpool_limits
        threadpool_limits(threads)
    except ImportError:
        pass
    import derive
    torch = torch_peers()
    if torch is not None:
        import torch as _t
        _t.set_num_threads(threads)
    jgrad = jax_peer()
    rng = np.random.default_rng(0)
    rows = []
    bw = copy_bandwidth()
    scale = 10 if quick else 1
    g_ce = derive.softmax_ce().compile()
    g_ce_jax = derive.softmax_ce().compile(backend="jax") if jgrad else None
    for (N, K) in [(100000, 10), (10000, 1000), (1000000, 10)]:
        N //= scale
        for dtype in (np.float32, np.float64):
            Z = (rng.normal(size=(N, K)) * 3).astype(dtype)
            Y = np.eye(K, dtype=dtype)[rng.integers(0, K, N)]
            ref = hand_softmax_ce(Z, Y)
            tol = 1e-4 if dtype == np.float32 else 1e-10
            assert np.allclose(g_ce(z=Z, y=Y), ref, atol=tol)
            c = {"derive": lambda: g_ce(z=Z, y=Y), "numpy": lambda: hand_softmax_ce(Z, Y)}
            if torch:
                assert np.allclose(torch["softmax_ce"](Z, Y), ref, atol=tol)
                c["torch"] = lambda: torch["softmax_ce"](Z, Y)
            if jgrad:
                import jax.numpy as jnp
                Zj, Yj = jnp.asarray(Z), jnp.asarray(Y)
                assert np.allclose(np.asarray(jgrad(Zj, Yj)), ref, atol=tol)
                assert np.allclose(np.asarray(g_ce_jax(z=Zj, y=Yj)), ref, atol=tol)
                c["jax.jit(grad)"] = lambda: jgrad(Zj, Yj)
                c["derive jax"] = lambda: g_ce_jax(z=Zj, y=Yj).block_until_ready()
            t = interleaved(c, repeat)
            rows.append({"case": f"softmax_ce ({N}, {K})", "dtype": np.dtype(dtype).name, "threads": threads,
                         "times": t, "mins": {k: min(v) for k, v in interleaved.last.items()},
                         "bound": 3 * Z.nbytes / bw,
                         "peak": {"derive": peak_mib(c["derive"]), "numpy": peak_mib(c["numpy"])}})
    # the data-set entries at the sizes
    K, n, m = 10, 100, 10000 // scale
    g_reg = derive.softmax_regression(K=None).compile()
    g_lab = derive.softmax_ce_labels().compile()
    g_mlp = derive.mlp_backprop().compile()
    for dtype in (np.float32, np.float64):
        tol = 1e-3 if dtype == np.float32 else 1e-9
        theta = (rng.normal(size=(K, n + 1)) * 0.1).astype(dtype)
        X = rng.normal(size=(m, n)).astype(dtype)
        lab = rng.integers(0, K, m)
        Y = np.eye(K, dtype=dtype)[lab]
        W = theta[:, 1:].copy()
        cases = [("softmax_regression", f"K={K}, n={n}, m={m}", lambda: g_reg(theta=theta, x=X, y=Y),
                  lambda: hand_regression(theta, X, Y), torch and (lambda: torch["softmax_regression"](theta, X, Y))),
                 ("softmax_ce_labels", f"K={K}, n={n}, m={m}", lambda: g_lab(w=W, x=X, label=lab),
                  lambda: hand_labels(W, X, lab), torch and (lambda: torch["softmax_ce_labels"](W, X, lab)))]
        for layers, N in [([64, 128, 64, 10], 2000), ([784, 256, 10], 10000 // scale)]:
            Ws = [(rng.normal(size=(layers[i + 1], layers[i])) * 0.1).astype(dtype) for i in range(len(layers) - 1)]
            bs = [np.zeros(u, dtype=dtype) for u in layers[1:]]
            Xm = rng.normal(size=(N, layers[0])).astype(dtype)
            Ym = np.eye(layers[-1], dtype=dtype)[rng.integers(0, layers[-1], N)]
            cases.append(("mlp_backprop", f"{layers}, N={N}",
                          (lambda Ws=Ws, bs=bs, Xm=Xm, Ym=Ym: g_mlp(weights=Ws, biases=bs, x=Xm, y=Ym)),
                          (lambda Ws=Ws, bs=bs, Xm=Xm, Ym=Ym: hand_mlp(Ws, bs, Xm, Ym)),
                          torch and (lambda Ws=Ws, bs=bs, Xm=Xm, Ym=Ym: torch["mlp_backprop"](Ws, bs, Xm, Ym))))
        for name, size, ours, hand, peer in cases:
            a, b = ours(), hand()
            def flat(r):
                return [np.ravel(x) for x in (r[0] + r[1])] if isinstance(r, tuple) else [np.ravel(r)]
            assert all(np.allclose(u, v, atol=tol) for u, v in zip(flat(a), flat(b))), name
            if peer:
                assert all(np.allclose(u, v, atol=tol) for u, v in zip(flat(peer()), flat(b))), name
            c = {"derive": ours, "numpy": hand}
            if peer:
                c["torch"] = peer
            t = interleaved(c, repeat)
            rows.append({"case": f"{name} {size}", "dtype": np.dtype(dtype).name, "threads": threads, "times": t,
                         "mins": {k: min(v) for k, v in interleaved.last.items()},
                         "peak": {"derive": peak_mib(ours), "numpy": peak_mib(hand)}})
    return rows


def fmt_ms(s):
    return f"{s * 1e3:.2f}" if s is not None else "n/a"


def ratio(r: dict, peer: str, ours: str = "derive") -> str:
    """median ratio (ratio of the fastest runs)"""
    t, m = r["times"], r["mins"]
    return f"{t[ours] / t[peer]:.2f} ({m[ours] / m[peer]:.2f})" if peer in t and ours in t else "n/a"


def table(rows: list) -> str:
    out = ["| case | dtype | thr | derive ms | / numpy | / torch | derive jax / jax.jit(grad) | "
           "derive / bw bound | peak MiB derive / numpy |", "|---|---|---|---|---|---|---|---|---|",
           "| ratios: median over the interleaved rounds (in brackets: ratio of the fastest rounds) | | | | | | | | |"]
    for r in rows:
        t = r["times"]
        bound = f"{t['derive'] / r['bound']:.1f}x" if "bound" in r else ""
        out.append(f"| {r['case']} | {r['dtype']} | {r['threads']} | {fmt_ms(t['derive'])} | {ratio(r, 'numpy')} | "
                   f"{ratio(r, 'torch')} | {ratio(r, 'jax.jit(grad)', 'derive jax') if 'derive jax' in t else ''} | "
                   f"{bound} | {r['peak']['derive']:.1f} / {r['peak']['numpy']:.1f} |")
    return "\n".join(out)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    p.add_argument("--repeat", type=int, default=7)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--child", type=int, help=argparse.SUPPRESS)
    p.add_argument("--json", help="also write the rows as JSON to this file")
    args = p.parse_args()
    if args.child:
        print(json.dumps(child(args.child, args.repeat, args.quick)))
        return
    rows = []
    for n in args.threads:
        env = dict(os.environ, OMP_NUM_THREADS=str(n), OPENBLAS_NUM_THREADS=str(n), MKL_NUM_THREADS=str(n),
                   XLA_FLAGS=f"--xla_cpu_multi_thread_eigen={'true' if n > 1 else 'false'} "
                             f"intra_op_parallelism_threads={n}")
        cmd = [sys.executable, os.path.abspath(__file__), "--child", str(n), "--repeat", str(args.repeat)]
        out = subprocess.run(cmd + (["--quick"] if args.quick else []), env=env, capture_output=True, text=True)
        if out.returncode:
            sys.exit(f"child for {n} thread(s) failed:\n{out.stderr}")
        rows += json.loads(out.stdout.strip().splitlines()[-1])
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
