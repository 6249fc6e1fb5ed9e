"""verify() checks each step and the result, and names a broken step."""
import dataclasses

import pytest
import sympy as sp

import derive


def test_every_step_of_every_chain_passes(ce, ce_report):
    assert ce_report.ok, str(ce_report)
    per_chain = {}
    for c in ce_report.checks:
        per_chain.setdefault(c.derivation, []).append(c)
    for d in ce.walk():
        checks = per_chain[d.name]
        assert [c.step for c in checks] == list(range(1, len(d.steps) + 1)) + [None]
        assert all(c.cases > 0 for c in checks)


def test_steps_are_checked_at_several_K(ce):
    report = ce.verify(Ks=(2, 3, 4, 5))
    # every k at K = 2 and 3 (2 + 3), 2 random ones at K = 4 and 5, 2 random points each
    assert all(c.cases == 2 * (2 + 3 + 2 + 2) for c in report.checks if c.derivation == "softmax_ce")
    # j != k: every pair at K = 2 and 3 (2 + 6), 2 at K = 4 and 5
    assert all(c.cases == 2 * (2 + 6 + 2 + 2) for c in report.checks if c.derivation == "softmax_partial_other")


def test_symbolic_K_is_also_checked_at_a_drawn_K_with_both_ends(ce_report):
    """Issue 16.1: K = 2..5 and one K drawn from 6..24, where k takes 1, K - 1, K and a random value."""
    drawn = ce_report.drawn
    assert 6 <= drawn <= 24 and ce_report.Ks == (2, 3, 4, 5, drawn) and ce_report.wide == (6, 24)
    assert f"and {drawn} (drawn from 6..24 with seed 0)" in str(ce_report).splitlines()[0]
    for c in ce_report.checks:
        assert c.Ks == ce_report.Ks
        small = 2 * (2 + 3 + 2 + 2) if c.derivation != "softmax_partial_other" else 2 * (2 + 6 + 2 + 2)
        assert c.cases > small  # the drawn K adds cases
    seeds = {derive.softmax_ce().verify(seed=s, lemmas=False).drawn for s in range(12)}
    assert len(seeds) > 3 and all(6 <= k <= 24 for k in seeds)


def test_index_samples_sets_the_assignments_above_K_3(ce):
    report = ce.verify(Ks=(4, 5), index_samples=3, lemmas=False)
    assert report.ok and all(c.cases == 2 * (3 + 3) for c in report.checks)
    report = ce.verify(Ks=(2, 3), index_samples=1, points=1, lemmas=False)
    assert all(c.cases == 2 + 3 for c in report.checks)  # every assignment at K <= 3 whatever index_samples


def test_a_term_wrong_at_one_index_pair_is_caught_with_any_seed():
    """Issue 9: a wrong term non-zero only at (k, j) = (3, 2) of softmax_regression passed with seeds 0, 1, 2."""
    d = derive.softmax_regression()
    x, k, j, i, m = (d.setting.symbols[s] for s in ("x", "k", "j", "i", "m"))
    last = d.steps[-1]
    wrong = last.expr + sp.KroneckerDelta(k, 3) * sp.KroneckerDelta(j, 2) * sp.Sum(x[i, j], (i, 1, m))
    bad = d.with_step(len(d.steps) - 1, dataclasses.replace(last, expr=wrong))
    for seed in (0, 1, 2):
        report = bad.verify(lemmas=False, seed=seed)
        assert [c.step for c in report.failures] == [len(d.steps), None], str(report)
        assert report.failures[0].counterexample["indices"] == {"j": 2, "k": 3}


def test_a_failure_carries_a_counterexample(ce):
    o, y, k = (ce.setting.symbols[n] for n in "oyk")
    step = ce.steps[7]
    report = ce.with_step(7, dataclasses.replace(step, expr=step.expr + o[k] * y[k])).verify(lemmas=False)
    first = report.failures[0]
    example = first.counterexample
    assert set(example) == {"K", "indices", "values", "lhs", "rhs"}
    assert example["K"] == 2 and set(example["indices"]) == {"k"}
    assert example["lhs"] == pytest.approx(float(sp.N(first.message.split(": ")[1].split(" != ")[0])), rel=1e-6)
    assert abs(example["rhs"] - example["lhs"]) > 1e-6
    assert all(isinstance(v, float) for v in example["values"].values())
    assert all(c.counterexample is None for c in report.checks if c.ok)


def test_reports_are_deterministic_and_independent_of_the_cache(ce):
    from derive.verify import clear_cache, verify
    first = str(verify(ce, Ks=(2, 4), seed=5))
    clear_cache()
    assert str(verify(ce, Ks=(2, 4), seed=5)) == first
    assert str(verify(ce, Ks=(2, 4), seed=5)) == first  # from the cache


def test_progress_is_called_per_check_even_from_the_cache(ce):
    for _ in range(2):
        seen = []
        report = ce.verify(progress=seen.append)
        assert len(seen) == len(report.checks)
        same = next(x for x in ce.walk() if x.name == "softmax_partial_same")
        assert seen[0] == f"softmax_partial_same: step 1 of {len(same.steps)}" and seen[-1] == "softmax_ce: result"


def test_nothing_to_check_is_not_ok(ce):
    empty = dataclasses.replace(ce, steps=())
    report = empty.verify(lemmas=False)
    assert not report.ok and report.checks[0].rule == "no steps"
    incomplete = dataclasses.replace(ce, incomplete="stops short")
    assert not incomplete.verify().ok


def test_a_corrupted_step_is_named(ce):
    o, y, k = (ce.setting.symbols[n] for n in "oyk")
    step = ce.steps[7]
    bad = ce.with_step(7, dataclasses.replace(step, expr=step.expr + o[k] * y[k]))
    report = bad.verify()
    assert not report.ok
    names = [(c.derivation, c.step) for c in report.failures]
    # the corrupted step and the step after it (whose left side is now wrong) fail
    assert names == [("softmax_ce", 8), ("softmax_ce", 9)]
    assert "softmax_ce: step 8 (expand)" in str(report)


def test_a_corrupted_lemma_is_named(ce):
    same = ce.lemmas[0]
    o, k = (ce.setting.symbols[n] for n in "ok")
    bad_lemma = same.with_step(len(same.steps) - 1, dataclasses.replace(same.steps[-1], expr=o[k] * (1 + o[k])))
    steps = list(ce.steps)
    steps[4] = dataclasses.replace(steps[4], lemmas=(bad_lemma, ce.lemmas[1]))
    report = dataclasses.replace(ce, steps=tuple(steps)).verify()
    failed = {(c.derivation, c.step) for c in report.failures}
    assert ("softmax_partial_same", len(same.steps)) in failed
    assert ("softmax_partial_same", None) in failed  # its result no longer matches finite differences


def test_a_step_that_needs_an_unstated_assumption_fails(ce):
    last = ce.steps[-1]
    unstated = ce.with_step(len(ce.steps) - 1, dataclasses.replace(last, assumptions=()))
    report = unstated.verify(lemmas=False)
    assert [c.step for c in report.failures] == [len(ce.steps), None]


def test_a_wrong_result_fails_finite_differences(ce):
    o, y, k = (ce.setting.symbols[n] for n in "oyk")
    last = ce.steps[-1]
    bad = ce.with_step(len(ce.steps) - 1, dataclasses.replace(last, expr=o[k] + y[k]))
    report = bad.verify(lemmas=False)
    result = [c for c in report.checks if c.step is None][0]
    assert not result.ok and "finite differences give" in result.message


def test_report_reads_well(ce_report):
    text = str(ce_report)
    assert text.splitlines()[0].startswith(f"verify softmax_ce: all {len(ce_report.checks)} checks passed (K = 2, 3")
    assert "[ok  ] softmax_ce: step 3 (split_sum)" in text
    assert repr(ce_report).startswith("Report('softmax_ce', ok=True")
    assert bool(ce_report)


@pytest.mark.parametrize("kwargs, argument", [
    ({"Ks": [1]}, "Ks"), ({"Ks": "23"}, "Ks"), ({"Ks": []}, "Ks"),
    ({"points": 0}, "points"), ({"index_samples": True}, "index_samples"),
])
def test_bad_options_are_named(ce, kwargs, argument):
    with pytest.raises(derive.ArgumentError) as err:
        ce.verify(**kwargs)
    assert err.value.argument == argument


def test_concrete_K_is_checked_at_that_K(ce3):
    with pytest.raises(derive.ArgumentError) as err:
        ce3.verify(Ks=(2, 3))
    assert err.value.argument == "Ks" and "K = 3" in str(err.value)
    from derive.verify import verify
    with pytest.raises(derive.ArgumentTypeError) as err:
        verify("softmax_ce")
    assert err.value.argument == "derivation"
    report = ce3.verify()
    assert report.ok
    # 1 K, every index choice (3 values of k; 6 pairs j != k), 2 points
    assert all(c.cases == (12 if c.derivation == "softmax_partial_other" else 6) for c in report.checks)


def test_a_wrong_diagonal_of_the_jacobian_is_caught():
    """Inside (1 - delta_ij) X the step may use i != j, but the check must still cover i = j."""
    d = derive.softmax_jacobian()
    o, i = d.setting.symbols["o"], d.setting.symbols["i"]
    lemma_step = d.steps[2]
    assert lemma_step.rule.value == "lemma"
    wrong = lemma_step.expr.xreplace({1 - o[i]: 7})  # the diagonal term becomes 7 delta_ij o_i
    assert wrong != lemma_step.expr
    report = d.with_step(2, dataclasses.replace(lemma_step, expr=wrong)).verify(lemmas=False)
    assert not report.ok
    assert 3 in [c.step for c in report.failures]


def test_contraction_needs_the_delta_as_a_factor():
    import sympy as sp
    from derive import rules
    from derive.rules import Context
    d = derive.softmax_ce()
    a, b = sp.IndexedBase("a"), sp.IndexedBase("b")
    l, k = sp.symbols("l k", integer=True, positive=True)
    K = d.setting.K
    summand = sp.Sum(a[l] + sp.KroneckerDelta(l, k) * b[l], (l, 1, K))
    step = rules.kronecker_delta(summand, Context(d.setting))
    assert step is None or step.expr != a[k] + b[k]
    inside = sp.Sum(sp.exp(sp.KroneckerDelta(l, k)) * b[l], (l, 1, K))
    step = rules.kronecker_delta(inside, Context(d.setting))
    assert step is None or not step.expr.free_symbols <= {k, b.label, K}


SIMPLEX = ["sum(y[j], j) = 1"]


@pytest.mark.parametrize("cost, assume", [
    ("sum(y[j]*log(y[j]) - y[j]*log(softmax(z)[j]), j)", SIMPLEX),  # KL divergence
    ("-sum(sqrt(y[j])*log(softmax(z)[j]), j)", SIMPLEX),
    ("-sum(log(y[j])*log(softmax(z)[j]), j)", SIMPLEX),
    ("-sum((1-y[j])**gamma*log(softmax(z)[j]), j)", SIMPLEX),
    ("-sum(y[j]*log(softmax(z)[j])*log(y[j]/(1-y[j])), j)", SIMPLEX),
    ("-sum(y[j]*log(softmax(z)[j]), j)*log(1-eps)", []),
])
def test_values_are_drawn_where_every_expression_of_the_chain_is_defined(cost, assume):
    """Issue 14.6: y under a log or a root (1 - y, a scalar eps) is drawn positive (in (0, 1)) on the steps that
    do not cite sum_j y_j = 1, not from [-2, 2] where log(y) cannot be evaluated."""
    report = derive.gradient(cost, assume=assume).verify()
    assert report.ok, str(report)


def _atom(d, name):
    """The base or symbol of ``d``'s chain named ``name``."""
    exprs = [d.lhs] + [s.expr for s in d.steps]
    found = {str(a.base): a.base for e in exprs for a in e.atoms(sp.Indexed)}
    found.update({str(s): s for e in exprs for s in e.free_symbols if str(s) not in found})
    return found[name]


def test_a_wrong_step_under_a_log_still_fails_on_its_numbers():
    d = derive.gradient("-sum(sqrt(y[j])*log(softmax(z)[j]), j)", assume=SIMPLEX)
    o, y, k = (_atom(d, n) for n in "oyk")
    last = d.steps[-1]
    # sum_j sqrt(y_j) is not 1 on the simplex: citing sum_j y_j = 1 does not make it so
    fact = next(a for a in derive.gradient("sum(y[j]*log(y[j]) - y[j]*log(softmax(z)[j]), j)",
                                          assume=SIMPLEX).assumptions if a.domains)
    bad = d.with_step(len(d.steps) - 1, dataclasses.replace(last, expr=o[k] - sp.sqrt(y[k]), assumptions=(fact,)))
    report = bad.verify(lemmas=False)
    assert [c.step for c in report.failures] == [len(d.steps), None]
    assert report.failures[0].message.startswith("sides differ")
    assert all(0 < v for n, v in report.failures[0].counterexample["values"].items() if n.startswith("y"))


def test_a_step_that_silently_needs_the_simplex_fails_with_y_under_a_log():
    d = derive.gradient("sum(y[j]*log(y[j]) - y[j]*log(softmax(z)[j]), j)", assume=SIMPLEX)
    last = d.steps[-1]
    assert last.rule.value == "assumption"
    report = d.with_step(len(d.steps) - 1, dataclasses.replace(last, assumptions=())).verify(lemmas=False)
    assert [c.step for c in report.failures] == [len(d.steps), None]
    assert report.failures[0].message.startswith("sides differ")  # y positive, unnormalised: evaluated, wrong


HEAVY = "sum((softmax(z)[j] + y[j] + t[j] + u[j])**64, j)"


def test_a_time_budget_ends_in_an_error_naming_what_was_left_unchecked():
    """Issue 18.1: verify of a planned cost is bounded; running out is an error, never an ok report."""
    from derive.verify import VerifyTimeout, clear_cache
    d = derive.gradient(HEAVY)
    clear_cache()
    with pytest.raises(VerifyTimeout) as err:
        d.verify(timeout=0.05)
    e = err.value
    assert e.unchecked and "gradient: result" in e.unchecked
    assert "unchecked" in str(e) and "0.05 s" in str(e) and "Nothing is verified" in str(e)
    assert len(e.checked) + len(e.unchecked) == sum(len(x.steps) + 1 for x in d.walk() if x.steps)
    assert isinstance(e, derive.DeriveError)


def test_the_power_64_cost_verifies_within_the_default_cli_budget():
    """Before issue 18.1 its verify ran past 150 s (the symbolic proof multiplied out the 64th power)."""
    import time
    from derive.cli import VERIFY_TIMEOUT
    from derive.verify import clear_cache
    clear_cache()
    t = time.monotonic()
    report = derive.gradient(HEAVY).verify(timeout=VERIFY_TIMEOUT)
    assert report.ok, str(report)
    assert time.monotonic() - t < VERIFY_TIMEOUT


NESTED = "sum(" + "exp(" * 10 + "softmax(z)[j]" + ")" * 10 + "*y[j], j)"  # one mpmath exp of 2^(10^78)


class _Hung(BaseException):
    """The guard of a test that would otherwise wait forever (a BaseException: nothing on the way swallows it)."""


def _hung(signum, frame):
    raise _Hung("verify did not stop at its budget")


def test_the_budget_holds_inside_one_long_call_and_puts_the_timer_and_handler_back():
    """Issue 18.1: the deadline was checked between SymPy calls only, so one mpmath exp of a number with
    10^78 digits ran past 300 s with a budget of 20 s. The test's own alarm (90 s) stands for a caller's."""
    import signal
    import mpmath
    from derive.verify import VerifyTimeout, clear_cache
    d = derive.gradient(NESTED)
    clear_cache()
    precision = mpmath.mp.prec
    previous = signal.signal(signal.SIGALRM, _hung)
    try:
        signal.setitimer(signal.ITIMER_REAL, 90)
        with pytest.raises(VerifyTimeout) as err:
            d.verify(timeout=2)
        assert signal.getsignal(signal.SIGALRM) is _hung  # the caller's handler is back ...
        left, _ = signal.getitimer(signal.ITIMER_REAL)
        assert 0 < left < 90  # ... and its timer runs on with the time it had left
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    e = err.value
    assert "gradient: result" in e.unchecked and "gradient: step 1 (definition)" in e.unchecked
    assert "Nothing is verified" in str(e) and "2 s" in str(e)
    assert mpmath.mp.prec == precision


def test_a_callers_alarm_due_first_stops_verify_and_is_named_then_rings_for_the_caller():
    import signal
    import time
    from derive.verify import VerifyTimeout, clear_cache
    d = derive.gradient(NESTED)
    clear_cache()
    rang = []
    previous = signal.signal(signal.SIGALRM, lambda signum, frame: rang.append(time.monotonic()))
    try:
        signal.setitimer(signal.ITIMER_REAL, 1.0)  # the caller's own limit, due long before verify's 60 s
        with pytest.raises(VerifyTimeout) as err:
            d.verify(timeout=60)
        stopped = time.monotonic()
        deadline = stopped + 5
        while not rang and time.monotonic() < deadline:  # the caller's timer is put back, due at once
            time.sleep(0.01)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert err.value.caller and "at the caller's own time limit, before its budget of 60 s" in str(err.value)
    assert rang  # the caller's handler ran after verify gave its timer back


def test_an_interrupted_verify_leaves_nothing_behind_that_changes_a_report():
    """A check cut off inside SymPy stores nothing half done: the next report is the one of a fresh cache."""
    import signal
    from derive.verify import VerifyTimeout, clear_cache
    d = derive.softmax_ce_hessian()
    clear_cache()
    before = signal.getsignal(signal.SIGALRM)
    for budget in (1e-7, 0.02, 0.1, 0.3):
        with pytest.raises(VerifyTimeout):
            d.verify(timeout=budget)
        assert signal.getsignal(signal.SIGALRM) is before and signal.getitimer(signal.ITIMER_REAL) == (0.0, 0.0)
    after = str(d.verify())
    clear_cache()
    assert after == str(d.verify())


def test_outside_the_main_thread_the_budget_still_holds_between_calls():
    import threading
    from derive.verify import VerifyTimeout, clear_cache
    d = derive.gradient(HEAVY)
    clear_cache()
    out = []

    def run():
        try:
            d.verify(timeout=0.05)
        except VerifyTimeout as e:
            out.append(e)
    worker = threading.Thread(target=run)
    worker.start()
    worker.join(120)
    assert not worker.is_alive() and out and "gradient: result" in out[0].unchecked


def test_the_cli_budget_holds_inside_one_long_call():
    """derive grad NESTED --verify --verify-timeout 2: one line on stderr, exit 1, no report (it ran > 300 s)."""
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "derive", "grad", NESTED, "--verify", "--verify-timeout", "2"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr.startswith("derive: error: verify gradient: stopped after the time budget of 2 s")
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert "all" not in proc.stdout.lower() or "checks passed" not in proc.stdout


@pytest.mark.parametrize("timeout", [0, -1, "5", True, float("nan")])
def test_a_bad_timeout_is_named(ce, timeout):
    with pytest.raises(derive.ArgumentError) as err:
        ce.verify(timeout=timeout)
    assert err.value.argument == "timeout"


def test_the_cli_budget_exits_1_with_one_line(capsys):
    from derive.cli import main
    from derive.verify import clear_cache
    clear_cache()
    status = main(["grad", HEAVY, "--verify", "--verify-timeout", "0.05"])
    err = capsys.readouterr().err
    assert status == 1
    assert err.startswith("derive: error: verify gradient: stopped after the time budget of 0.05 s")
    assert "Traceback" not in err


def test_the_mpmath_program_compiles_a_sum_of_several_limits():
    """Sum(f, (j, 1, i), (i, 1, K)) was rebuilt as Sum(Sum(f, l0), l1), which SymPy merges back: the generator
    recursed until 'too deep' and every batch cost lost its generic form (issue 16.5)."""
    import mpmath
    from derive.verify.codegen import Program
    i, j, K = sp.symbols("i j K", integer=True, positive=True)
    x = sp.IndexedBase("x")
    program = Program(sp.Sum(i * j * x[j], (j, 1, i), (i, 1, K)), frozenset({K}))
    assert program(lambda base, *ix: mpmath.mpf(ix[0]), {K: 3}) == 1 + 2 * (1 + 4) + 3 * (1 + 4 + 9)
    held = Program(derive.expr.Held(x[1] + 2) * 3, frozenset())  # a bracket kept for the reader is its content
    assert held(lambda base, *ix: mpmath.mpf(5), {}) == 21


def test_a_derivative_of_a_sum_keeps_its_deltas_on_the_generic_route():
    """d/dz_ij of E = -sum_ij y_ij log o_ij inside a sum over i, j: SymPy differentiates under the same names,
    so the variable's i, j were captured; the generic form disagreed with the direct one (and was dropped)."""
    import random
    from derive.verify import cases, instantiate
    d = derive.gradient("-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)", "w2", assume=["sum(y[i, j], j) = 1"],
                        define=["h[i, a] = tanh(sum(w1[a, d]*x[i, d], d))", "z[i, j] = sum(w2[j, a]*h[i, a], a)"])
    claim = d.steps[0].expr  # the multivariate chain rule: sum_ij dE/dz_ij dz_ij/dw2_ke
    assert claim.has(sp.Derivative) and isinstance(claim, sp.Sum) and len(claim.limits) == 2
    generic = instantiate.instantiate(d, claim, dict(cases.other_sizes(d)), {}, generic=True)
    at = dict(zip(cases.free_indices(d), (1, 1)))
    direct = instantiate.instantiate(d, claim, cases.sizes(d, 2), at)
    generic = generic.xreplace({d.setting.K: 2, **{s: sp.Integer(v) for s, v in at.items()}}).doit()
    rng = random.Random(1)
    point = {a: sp.Float(rng.uniform(-2, 2), 30) for a in generic.atoms(sp.Indexed) | direct.atoms(sp.Indexed)}
    g, r = sp.N(generic.xreplace(point), 25), sp.N(direct.xreplace(point), 25)
    assert abs(g - r) <= 1e-20 * max(1, abs(r)), (g, r)


def test_along_a_chain_each_side_is_evaluated_once_per_point(monkeypatch):
    """Issue 16.5: the right side of step n is the left side of step n + 1; the steps of a chain share their
    cases (per sampling domains), so that side is evaluated once per point, not twice."""
    from derive.verify import checks, clear_cache, evaluate
    calls = []
    in_step = []
    values, check_step = evaluate.Side.values, checks.check_step

    def counted(self, sample, integers, digits):
        if in_step and digits == 30:
            calls.append((self, sample))
        return values(self, sample, integers, digits)

    def step(*args, **kwargs):
        in_step.append(1)
        try:
            return check_step(*args, **kwargs)
        finally:
            in_step.pop()
    monkeypatch.setattr(evaluate.Side, "values", counted)
    monkeypatch.setattr(checks, "check_step", step)
    clear_cache()
    report = derive.softmax_ce().verify(lemmas=False)
    assert report.ok
    steps = [c for c in report.checks if c.step is not None]
    assert all(c.cases > 0 for c in steps)
    assert len(calls) == len(set(calls))  # no side evaluated twice at one point
    assert len(calls) < 0.7 * 2 * sum(c.cases for c in steps), len(calls)  # each step on its own: 2 per case


def test_an_equality_step_is_checked_at_the_points_asked_for_and_only_a_bound_at_more():
    """An equality step meets the chain's points a case; a bound step (>=) takes BOUND_POINTS a case (a
    slip that gave every step of every chain 24 points made verify 4x slower)."""
    from derive.verify.checks import BOUND_POINTS
    psd = derive.entry("softmax_ce_hessian")().parts[-1]
    own = [c for c in psd.verify(Ks=(2, 3), points=2).checks if c.derivation == "semidefinite"]
    bound = [c for c in own if c.rule == "nonnegative"][0]
    equal = [c for c in own if c.rule == "expand"][0]
    assert bound.cases == equal.cases * BOUND_POINTS // 2, (bound.cases, equal.cases)
