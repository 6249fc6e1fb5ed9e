"""Each rule on its own: what it rewrites, and None when it does not apply."""
import inspect

import pytest
import sympy as sp

from derive import rules
from derive import definitions as defs
from derive.setting import Definition
from derive.expr import Held, SumExcept, release
from derive.rules import Context
from derive.setting import Setting
from derive.assumptions import different, normalized, one_hot_at, softmax_total
from derive.model import Rule

K = defs.classes("K", None)
k, j, l = (defs.index(n) for n in "kjl")
z, o, y = (sp.IndexedBase(n) for n in "zoy")
E = sp.Symbol("E")
SETTING = Setting(K=K, variables=(z,),
                  definitions=(defs.cross_entropy(E, o, y, j, K), defs.softmax(o, lambda i: z[i], j, l, K)),
                  ranges=tuple((i, (1, K)) for i in (k, j, l)))
CTX = Context(SETTING)
S = sp.Sum(sp.exp(z[l]), (l, 1, K))

ALL = list(rules.RULES)  # every registered rule (derive.rules.registry.rule)


def test_every_rule_function_is_registered_once_and_reachable_by_name():
    """A public function of a rule module that takes (expr, ctx) is a rule: it must carry @rule(...)."""
    from derive.rules import algebra, calculus, matrix, sums
    found = [f for m in (algebra, calculus, matrix, sums) for n, f in vars(m).items()
             if inspect.isfunction(f) and f.__module__ == m.__name__ and not n.startswith("_")
             and list(inspect.signature(f).parameters)[:2] == ["expr", "ctx"]]
    assert found and sorted(f.__name__ for f in found) == sorted(f.__name__ for f in ALL)
    assert all(getattr(rules, f.__name__) is f and f.__name__ in rules.__all__ for f in ALL)


def test_every_kind_of_step_is_made_by_a_registered_rule():
    made = {f.registration.kind for f in ALL}
    assert made == set(Rule) - {Rule.CLAIM}  # a claim is a user's own link (derive check), no rule's


def test_the_planner_orders_come_from_the_registrations():
    names = {p: [[f.__name__ for f in g] for g in rules.planned(p)] for p in ("differentiate", "simplify", "tidy")}
    assert names["differentiate"] == [["linearity"], ["lemma"], ["quotient_rule"], ["product_rule"],
                                      ["chain_rule"], ["differentiate"]]
    assert names["simplify"][:3] == [["cancel"], ["hyperbolic", "kronecker_delta"],
                                     ["factor_over_output", "add_and_subtract", "split_fraction", "fold",
                                      "recognise"]]  # per output: split, add and subtract, split, fold, read
    assert names["tidy"] == [["merge_powers"], ["combine_sums"], ["collect"], ["factor"], ["output_minus_target"],
                             ["outputs_minus_targets"]]
    with pytest.raises(ValueError, match="phases are differentiate, simplify, tidy"):
        rules.planned("expand")


def test_registering_a_rule_states_its_rewrite_and_kind():
    from derive.rules import rule

    def no_rewrite(expr, ctx):
        """Does something."""

    def fine(expr, ctx):
        """a -> b."""
    with pytest.raises(ValueError, match="one line stating the rewrite"):
        rule(Rule.CANCEL)(no_rewrite)
    with pytest.raises(TypeError, match="derive.model.Rule"):
        rule("cancel")(fine)
    with pytest.raises(ValueError, match="each="):
        rule(Rule.CANCEL, each=("everything",))(fine)
    assert rule(Rule.CANCEL, simplify=9)(fine).registration.phases == {"simplify": 9}


@pytest.mark.parametrize("rule", ALL, ids=[r.__name__ for r in ALL])
def test_every_rule_has_a_one_line_docstring_stating_its_rewrite(rule):
    doc = inspect.getdoc(rule)
    assert doc and "\n" not in doc and "->" in doc


@pytest.mark.parametrize("rule", ALL, ids=[r.__name__ for r in ALL])
def test_rules_that_do_not_apply_return_none(rule):
    params = {"split_sum": {"at": k}, "definition": {"of": E}, "fold": {"of": o}, "recognise": {"of": o}, "factor_over_output": {"of": o},
              "add_and_subtract": {"of": o}, "split_fraction": {"of": o},
              "assumption": {"fact": normalized(y, j, K)}, "lemma": {"lemmas": ()},
              "one_hot_target": {"fact": one_hot_at(sp.IndexedBase("q"), j, defs.index("t"))},  # y_k has no q
              "complete_square": {"fact": softmax_total(o, j, K)},
              "cases": {"first": j, "second": k}, "matrix_form": {"rows": j},
              "multivariate_chain_rule": {"through": o, "indices": (j,)}}.get(rule.__name__, {})
    assert rule(y[k], CTX, **params) is None


def test_linearity():
    step = rules.linearity(sp.Derivative(-sp.Sum(y[j] * sp.log(o[j]), (j, 1, K)), z[k]), CTX)
    assert step.expr == -sp.Sum(y[j] * sp.Derivative(sp.log(o[j]), z[k]), (j, 1, K))
    pulled = rules.linearity(SumExcept(-o[k] * y[j], (j, 1, K), k), CTX)
    assert pulled.expr == -o[k] * SumExcept(y[j], (j, 1, K), k)


def test_fold_reads_a_fraction_where_it_stands():
    """e^{z_j} e^{z_k}/S^2 -> o_j o_k and e^{z_k}/S (S - e^{z_k})/S -> o_k (1 - o_k): no S brought in to cancel."""
    from derive.expr import Held
    assert rules.fold(-sp.exp(z[j]) * sp.exp(z[k]) / S ** 2, CTX, of=o).expr == -o[j] * o[k]
    two = rules.factor((sp.exp(z[k]) * S - sp.exp(z[k]) ** 2) / S ** 2, CTX, over=o).expr
    assert two == Held(sp.exp(z[k]) / S) * Held((S - sp.exp(z[k])) / S)
    assert rules.fold(two, CTX, of=o).expr == o[k] * (1 - o[k])
    assert rules.fold(sp.exp(z[k]) * y[k], CTX, of=o).expr == o[k] * S * y[k]  # no denominator: o_k S


def _sigmoid_context():
    s = sp.IndexedBase("s")
    ctx = Context(Setting(K=K, variables=(z,), definitions=(defs.sigmoid(s, z, j),), ranges=SETTING.ranges))
    return s, 1 + sp.exp(-z[j]), ctx


def test_the_sigmoid_square_is_split_and_one_added_and_subtracted():
    """Seed 004's route: e^{-z}/(1 + e^{-z})^2 = 1/(1 + e^{-z}) (1 + e^{-z} - 1)/(1 + e^{-z})
    = 1/(1 + e^{-z}) (1 - 1/(1 + e^{-z})) = s (1 - s)."""
    s, v, ctx = _sigmoid_context()
    x = sp.IndexedBase("x")
    start = x[k] * sp.exp(-z[j]) / v ** 2
    split = rules.factor_over_output(start, ctx, of=s)
    assert split.expr == x[k] * Held(1 / v) * Held(sp.exp(-z[j]) / v) and split.rule is Rule.FACTOR
    padded = rules.add_and_subtract(split.expr, ctx, of=s)
    assert padded.rule is Rule.ADD_SUBTRACT and padded.justification == "add and subtract 1 in the numerator"
    numerator = next(a for h in padded.expr.atoms(Held) for a in sp.Mul.make_args(h.expr) if isinstance(a, sp.Add)
                     and len(a.args) == 3)
    assert sorted(map(str, numerator.args)) == sorted(["1", "-1", str(sp.exp(-z[j]))])  # 1 + e^{-z} - 1, as written
    assert sp.simplify(release(padded.expr) - start) == 0
    whole = rules.split_fraction(padded.expr, ctx, of=s)
    assert whole.expr == x[k] * Held(1 / v) * Held(1 - 1 / v) and whole.rule is Rule.SPLIT_FRACTION
    assert rules.fold(whole.expr, ctx, of=s).expr == x[k] * s[j] * (1 - s[j])
    # nothing to add and subtract: the numerator is not the denominator less a number
    assert rules.add_and_subtract(x[k] * Held(1 / v) * Held(z[j] / v), ctx, of=s) is None
    assert rules.split_fraction(split.expr, ctx, of=s) is None  # e^{-z}/(1 + e^{-z}) holds no 1 + e^{-z}


def test_recognise_reads_the_complement_of_a_sigmoid_where_it_stands():
    """log(e^{-z}/(1 + e^{-z})) -> log(1 - s), not log(s (1/s - 1))."""
    s, v, ctx = _sigmoid_context()
    step = rules.recognise(sp.log(sp.exp(-z[j]) / v) + sp.log(1 / v), ctx, of=s)
    assert step.expr == sp.log(1 - s[j]) + sp.log(s[j])


def test_a_form_linear_in_a_vector_is_a_matrix_times_it_then_computed_entrywise():
    """o_k (g_k - sum_j o_j g_j) = [(diag(o) - o o^T) g]_k = [o o (g - (o^T g) 1)]_k, each entry checked at K = 3."""
    g = sp.IndexedBase("g")
    index = o[k] * (g[k] - sp.Sum(o[j] * g[j], (j, 1, K)))
    jacobian = rules.matrix_form(index, CTX, rows=k, vector=g)
    shown = sp.MatrixSymbol("o", K, 1)
    assert jacobian.expr.matrix == (sp.DiagMatrix(shown) - shown * shown.T) * sp.MatrixSymbol("g", K, 1)
    entrywise = rules.entrywise_form(jacobian.expr, CTX)
    assert isinstance(entrywise.expr.matrix, sp.HadamardProduct)
    values = {**{o[n]: sp.Rational(n, 7) for n in range(1, 4)}, **{g[n]: sp.Integer(n * n - 3) for n in range(1, 4)}}
    for row in range(1, 4):
        want = index.xreplace({K: 3, k: row}).doit().xreplace(values)
        for form in (jacobian.expr, entrywise.expr):
            entry = form.xreplace({K: sp.Integer(3), k: sp.Integer(row)}).doit()
            assert sp.simplify(entry.xreplace(values) - want) == 0
    assert rules.matrix_form(o[k] * g[k] ** 2, CTX, rows=k, vector=g) is None  # not linear in g
    assert rules.matrix_form(o[k] * g[k] + o[k], CTX, rows=k, vector=g) is None  # a term without g
    assert rules.entrywise_form(entrywise.expr, CTX) is None


def test_recognise_names_a_softmax_written_out():
    step = rules.recognise(-sp.Sum(y[j] * sp.log(sp.exp(z[j]) / S), (j, 1, K)), CTX, of=o)
    assert step.justification == "recognise the softmax"
    assert step.expr == -sp.Sum(y[j] * sp.log(o[j]), (j, 1, K))  # read where it stands: no S brought in
    assert rules.recognise(sp.log(S), CTX, of=o) is None  # a log-sum-exp alone is no fraction to name


def test_fold_an_activation_back_in():
    h, w, x = (sp.IndexedBase(n) for n in "hwx")
    a, b, d = (defs.index(n) for n in "abd")
    g = sp.Sum(w[a, d] * x[d], (d, 1, K))
    layer = Definition("layer_h", h, (a,), sp.tanh(g), text="given")
    ctx = Context(Setting(K=K, variables=(w,), definitions=(layer,), ranges=SETTING.ranges))
    step = rules.fold((1 - sp.tanh(g.xreplace({a: b})) ** 2) * x[k], ctx, of=h)
    assert step.expr == (1 - h[b] ** 2) * x[k] and step.rule.value == "fold_definition"
    assert rules.fold(sp.tanh(z[k]) * x[k], ctx, of=h) is None  # another argument is no h


def test_recognise_names_a_sigmoid_and_a_softplus_written_out():
    s = sp.IndexedBase("s")
    sig = Definition("sigmoid", s, (j,), 1 / (1 + sp.exp(-z[j])), kernel="sigmoid", argument=z[j], text="sigmoid")
    ctx = Context(Setting(K=K, variables=(z,), definitions=(sig,), ranges=SETTING.ranges))
    fraction = rules.recognise(y[k] * sp.exp(z[k]) / (1 + sp.exp(z[k])), ctx, of=s)
    assert fraction.expr == y[k] * s[k] and fraction.justification == "recognise the sigmoid"
    softplus = rules.recognise(sp.log(1 + sp.exp(z[k])), ctx, of=s)
    assert softplus.expr == sp.log(1 / (1 - s[k])) and "softplus" in softplus.justification
    assert rules.recognise(sp.log(1 + sp.exp(2 * z[k])), ctx, of=s) is None


def test_split_and_join_are_inverse():
    total = sp.Sum(y[j] * o[k], (j, 1, K))
    split = rules.split_sum(total, CTX, at=k)
    assert split.expr == y[k] * o[k] + SumExcept(y[j] * o[k], (j, 1, K), k)
    assert [a.key for a in split.assumptions] == ["k_in_1_to_K"]
    assert rules.join_sum(split.expr, CTX).expr == total


def test_join_with_a_common_coefficient():
    T = sp.Symbol("T")
    joined = rules.join_sum(y[k] / T + SumExcept(y[j], (j, 1, K), k) / T, CTX)
    assert joined.expr == sp.Sum(y[j], (j, 1, K)) / T


def test_chain_rule_through_log():
    step = rules.chain_rule(sp.Derivative(sp.log(o[j]), z[k]), CTX)
    assert step.expr == sp.Derivative(o[j], z[k]) / o[j]
    assert step.formula is not None
    assert rules.chain_rule(sp.Derivative(sp.exp(z[j]), z[k]), CTX) is None  # elementary: differentiate


def test_quotient_rule():
    step = rules.quotient_rule(sp.Derivative(sp.exp(z[k]) / S, z[k]), CTX)
    expected = (sp.Derivative(sp.exp(z[k]), z[k]) * S - sp.exp(z[k]) * sp.Derivative(S, z[k])) / S**2
    assert sp.simplify(step.expr - expected) == 0
    assert rules.quotient_rule(sp.Derivative(sp.exp(z[k]) / sp.Symbol("T"), z[k]), CTX) is None


def test_differentiate_and_constants():
    assert rules.differentiate(sp.Derivative(sp.exp(z[j]), z[k]), CTX).expr == sp.exp(z[j]) * sp.KroneckerDelta(j, k)
    assert rules.differentiate(sp.Derivative(y[j], z[k]), CTX).expr == 0
    assert rules.differentiate(sp.Derivative(o[j], z[k]), CTX) is None  # o needs its lemma


def test_kronecker_delta_needs_the_facts():
    picked = rules.kronecker_delta(sp.Sum(sp.exp(z[l]) * sp.KroneckerDelta(k, l), (l, 1, K)), CTX)
    assert picked.expr == sp.exp(z[k])
    assert rules.kronecker_delta(sp.KroneckerDelta(j, k), CTX) is None
    known = Context(SETTING, (different(j, k),))
    step = rules.kronecker_delta(sp.KroneckerDelta(j, k), known)
    assert step.expr == 0 and [a.key for a in step.assumptions] == ["j_ne_k"]


def test_fold_then_cancel_then_factor():
    folded = rules.fold((sp.exp(z[k]) * S - sp.exp(z[k]) ** 2) / S**2, CTX, of=o)
    assert folded.expr == (o[k] * S**2 - o[k] ** 2 * S**2) / S**2  # the fold only substitutes
    cancelled = rules.cancel(folded.expr, CTX)
    assert cancelled.expr == o[k] - o[k] ** 2
    assert rules.factor(cancelled.expr, CTX).expr == o[k] * (1 - o[k])


def test_cancel_releases_held_factors():
    step = rules.cancel(y[k] / o[k] * Held(o[k] * (1 - o[k])), CTX)
    assert step.expr == y[k] * (1 - o[k])


def test_assumption_rewrites_only_its_statement():
    fact = normalized(y, j, K)
    step = rules.assumption(o[k] * sp.Sum(y[j], (j, 1, K)) - y[k], CTX, fact=fact)
    assert step.expr == o[k] - y[k] and step.assumptions == (fact,)


def test_assumption_finds_a_written_out_sum_and_never_writes_out_a_large_one(monkeypatch):
    fact = normalized(y, j, sp.Integer(3))
    written = o[k] * (y[1] + y[2] + y[3]) - y[k]
    assert rules.assumption(written, CTX, fact=fact).expr == o[k] - y[k]
    big = normalized(y, j, sp.Integer(10**9))  # K = 10**9: writing the sum out would never end

    def refuse(self, **hints):
        raise AssertionError("a sum of 10**9 terms was written out")

    monkeypatch.setattr(sp.Sum, "doit", refuse)
    assert rules.assumption(o[k] * (y[1] + y[2]) - y[k], CTX, fact=big) is None


def test_lemma_respects_its_conditions():
    lemma_lhs = sp.Derivative(o[j], z[k])

    class FakeLemma:
        name, title, lhs, result, conditions, steps = "other", "other", lemma_lhs, -o[j] * o[k], (different(j, k),), ()

    inside = SumExcept(sp.Derivative(o[j], z[k]), (j, 1, K), k)
    step = rules.lemma(inside, CTX, lemmas=(FakeLemma,))
    assert step.expr == SumExcept(-o[j] * o[k], (j, 1, K), k)  # nothing to cancel: no brackets kept
    # next to 1/o_j the substituted result stays apart, so that cancelling o_j is a step of its own
    step = rules.lemma(SumExcept(y[j] / o[j] * sp.Derivative(o[j], z[k]), (j, 1, K), k), CTX, lemmas=(FakeLemma,))
    assert step.expr == SumExcept(y[j] / o[j] * Held(-o[j] * o[k]), (j, 1, K), k)
    assert rules.cancel(step.expr, CTX).expr == SumExcept(-y[j] * o[k], (j, 1, K), k)
    # outside the j != k sum the condition is not known: no rewrite
    assert rules.lemma(sp.Derivative(o[j], z[k]), CTX, lemmas=(FakeLemma,)) is None


def test_no_index_capture():
    S = sp.Sum(y[j] * z[j], (j, 1, K))
    assert rules.linearity(sp.Derivative(S, z[j]), CTX) is None  # d/dz_j cannot move inside a sum over j
    assert rules.split_sum(sp.Sum(y[k], (k, 1, K)), CTX, at=k) is None
    assert rules.multivariate_chain_rule(sp.Derivative(E, z[j]), CTX, through=o, indices=(j,)) is None


def test_multivariate_chain_rule_needs_the_only_path():
    L = sp.Symbol("L")
    direct = Setting(K=K, variables=(z,), ranges=tuple((i, (1, K)) for i in (k, j, l)),
                     definitions=(Definition("cost", L, (), sp.Sum(o[l] ** 2 + z[l], (l, 1, K))),
                                  defs.softmax(o, lambda i: z[i], j, l, K)))
    assert rules.multivariate_chain_rule(sp.Derivative(L, z[k]), Context(direct), through=o, indices=(j,)) is None


def test_product_rule_takes_a_product_with_a_negative_exponential():
    """exp(-z_j) is a factor, not a denominator: y_j exp(-z_j) o_j goes by the product rule."""
    f = sp.exp(-z[j]) * o[j]
    step = rules.product_rule(sp.Derivative(f, z[k]), CTX)
    assert step is not None and step.rule.value == "product_rule"
    assert rules.quotient_rule(sp.Derivative(f, z[k]), CTX) is None


def test_output_minus_target_groups_the_target_the_way_a_textbook_writes_it():
    eps = sp.Symbol("eps", real=True)
    step = rules.output_minus_target(eps * y[k] + o[k] - y[k] - eps / K, CTX)
    assert step.rule is Rule.TARGET and sp.expand(step.expr - (eps * y[k] + o[k] - y[k] - eps / K)) == 0
    assert step.expr.args[0] == o[k] or o[k] in step.expr.args
    target = next(a for a in step.expr.args if a != o[k])
    assert sp.expand(-target - ((1 - eps) * y[k] + eps / K)) == 0
    assert rules.output_minus_target(o[k] - y[k], CTX) is None            # already the textbook's
    assert rules.output_minus_target(2 * o[k] - y[k] - eps, CTX) is None  # o_k is not alone


def test_kronecker_delta_picks_a_term_out_of_brackets():
    """sum_j (a_j d_jk + b_j d_jk) c_j -> (a_k + b_k) c_k without multiplying out; a term without the delta
    stays one sum: sum_j y_j (d_jk - o_k) -> y_k - sum_j y_j o_k, as a textbook reads it (issue 17.2: no
    multiplying out, splitting and merging back)."""
    dk = sp.KroneckerDelta(j, k)
    step = rules.kronecker_delta(sp.Sum(y[j] * (o[j] * dk - (1 - o[j]) * dk), (j, 1, K)), CTX)
    assert step.expr == y[k] * (o[k] - (1 - o[k]))
    step = rules.kronecker_delta(sp.Sum(y[j] * (dk - o[k]), (j, 1, K)), CTX)
    assert step.expr == y[k] - o[k] * sp.Sum(y[j], (j, 1, K))  # A_k - B sum_j A_j, B outside the sum
    assert step.justification == "the Kronecker delta picks one term of the sum"
    t = sp.IndexedBase("t")
    step = rules.kronecker_delta(sp.Sum((dk - o[k]) * (o[j] - t[j]) * o[j], (j, 1, K)), CTX)
    assert step.expr == (o[k] - t[k]) * o[k] - o[k] * sp.Sum((o[j] - t[j]) * o[j], (j, 1, K))
    step = rules.kronecker_delta(sp.Sum(y[j] * (dk - o[j]), (j, 1, K)), CTX)  # b_l depends on l: one sum
    assert step.expr == y[k] - sp.Sum(y[j] * o[j], (j, 1, K))
    # over two limits, a factor that depends on the other bound index stays inside the sum
    i, m = sp.Symbol("i", integer=True, positive=True), sp.Symbol("m", integer=True, positive=True)
    h, x = sp.IndexedBase("h"), sp.IndexedBase("x")
    step = rules.kronecker_delta(sp.Sum(x[i] * y[i, j] * (dk - h[i, k]), (j, 1, K), (i, 1, m)), CTX)
    assert step.expr == sp.Sum(x[i] * y[i, k], (i, 1, m)) - sp.Sum(h[i, k] * x[i] * y[i, j], (j, 1, K), (i, 1, m))
    # a delta that is not linear in the summand (squared, or two deltas in one product) is left alone
    assert rules.kronecker_delta(sp.Sum(y[j] * (dk - o[k]) ** 2, (j, 1, K)), CTX) is None


def test_linearity_splits_only_the_sums_a_derivative_acts_on():
    """While a derivative is being moved, a sum it does not reach (a quotient's denominator) stays one sum;
    the sum a derivative acts on is split, and with no derivative left a sum is split as before."""
    union = sp.Sum(o[j] + y[j], (j, 1, K))
    step = rules.linearity(sp.Derivative(3 * sp.Sum(o[j] * y[j], (j, 1, K)), z[k]) / union, CTX)
    assert step.expr == 3 * sp.Sum(sp.Derivative(o[j], z[k]) * y[j], (j, 1, K)) / union
    assert "split" not in step.justification
    step = rules.linearity(sp.Sum(sp.Derivative(o[j], z[k]) + y[j], (j, 1, K)) / union, CTX)
    assert step.expr == (sp.Sum(sp.Derivative(o[j], z[k]), (j, 1, K)) + sp.Sum(y[j], (j, 1, K))) / union
    assert rules.linearity(union, CTX).expr == sp.Sum(o[j], (j, 1, K)) + sp.Sum(y[j], (j, 1, K))


def test_linearity_given_the_facts_splits_off_only_the_terms_whose_sum_is_known():
    """The planner's linearity (the stated facts at hand): sum_j (y_j S - y_j z_j) -> S sum_j y_j - sum_j y_j z_j for
    sum_j y_j = 1; a constant leaves with it (K eps/K), the other terms stay one sum; a sum with no stated total
    among its terms (Jaccard's union, Taylor's normaliser 1 + z_l + z_l^2/2) stays whole. A recipe's (no facts)
    still splits every sum term by term."""
    total, eps = normalized(y, j, K), sp.Symbol("eps")
    P = sp.Sum(o[l] * z[l], (l, 1, K))
    step = rules.linearity(sp.Sum(y[j] * P - y[j] * z[j] + eps / K, (j, 1, K)), CTX, facts=(total,))
    assert step.expr == P * sp.Sum(y[j], (j, 1, K)) + sp.Sum(eps / K, (j, 1, K)) - sp.Sum(y[j] * z[j], (j, 1, K))
    assert step.justification.startswith("split off the part of the sum whose total is known")
    step = rules.linearity(sp.Sum(3 * y[l] + o[l] * z[l] - o[l] ** 2, (l, 1, K)), CTX, facts=(total,))  # another name
    assert step.expr == 3 * sp.Sum(y[l], (l, 1, K)) + sp.Sum(o[l] * z[l] - o[l] ** 2, (l, 1, K))
    union = sp.Sum(o[j] + y[j] - o[j] * y[j], (j, 1, K))  # Jaccard's, no total stated
    for whole, facts in ((union, ()), (sp.Sum(1 + z[l] + z[l] ** 2 / 2, (l, 1, K)), (total,))):
        assert rules.linearity(whole, CTX, facts=facts) is None
        assert "split the sum term by term" in rules.linearity(whole, CTX).justification
    assert rules.linearity(union, CTX, facts=(total,)).expr == sp.Sum(y[j], (j, 1, K)) + sp.Sum(o[j] - o[j] * y[j],
                                                                                               (j, 1, K))
    assert rules.linearity(sp.Sum(2 * o[j] * (y[j] + z[j]), (j, 1, K)), CTX, facts=(total,)).expr == \
        2 * sp.Sum(o[j] * (y[j] + z[j]), (j, 1, K))  # constant factors still come out


def test_factor_and_collect_keep_a_sum_with_a_constant_term_whole():
    """SymPy's factor_terms takes sum_l 1 out of sum_l (1 + z_l) (Taylor's normaliser printed as
    sum_l 1 + sum_l (z_l^2/2 + z_l)); the rules' factor_terms keeps the sum as it stands."""
    N = sp.Sum(z[l] ** 2 / 2 + z[l] + 1, (l, 1, K))
    assert sp.factor_terms(z[k] / N + 1 / N) != (z[k] + 1) / N
    f = z[k] ** 2 / 2 + z[k] + 1
    for e in (z[k] / N + 1 / N, z[k] / N + 1 / N - y[k] * z[k] / f - y[k] / f):  # the second: Taylor's last line
        factored = rules.factor(e, CTX).expr
        assert factored.atoms(sp.Sum) == {N}, factored
    assert rules.factor(z[k] / N + 1 / N, CTX).expr == (z[k] + 1) / N


def test_combine_sums_leaves_one_sum_with_two_coefficients_to_collect():
    """a S + b S with one sum S is (a + b) S, collect's; combine_sums would make it sum_j (a s_j + b s_j)."""
    T = sp.Sum(o[j] * z[j], (j, 1, K))
    assert rules.combine_sums(y[k] * T - o[k] * T, CTX) is None
    assert rules.combine_sums(y[k] * T - o[k] * sp.Sum(y[j], (j, 1, K)), CTX).expr == \
        sp.Sum(y[k] * o[j] * z[j] - o[k] * y[j], (j, 1, K))


def test_merge_powers_of_a_bracket_with_a_symbolic_exponent():
    g = sp.Symbol("gamma")
    step = rules.merge_powers((1 - o[k]) * (1 - o[k]) ** (g - 1) * o[k] * o[k] ** g, CTX)
    assert step.expr == (1 - o[k]) ** g * o[k] ** (g + 1)
    assert rules.merge_powers((1 - o[k]) * (1 - o[k]) ** 2, CTX) is None  # SymPy merges numeric powers itself
    assert rules.merge_powers(sp.exp(z[k]) * sp.exp(z[k]) ** g, CTX) is None


def test_factor_takes_out_a_power_with_a_symbolic_exponent():
    g = sp.Symbol("gamma")
    step = rules.factor(o[k] ** (g + 1) - g * o[k] ** g * y[k], CTX)
    assert step.expr == o[k] ** g * (o[k] - g * y[k])


def test_expand_keeps_a_bracket_that_also_divides():
    """(2u + 2v) a/(u + v) cancels to 2a instead of spreading u and v over the terms (spherical softmax)."""
    eps = sp.Symbol("eps", positive=True)
    u = eps + z[j] ** 2
    step = rules.expand(sp.Sum((-2 * u * z[k] + 2 * S * z[j]) * y[j] / u, (j, 1, K)), CTX)
    assert step.expr == sp.Sum(-2 * y[j] * z[k] + 2 * S * y[j] * z[j] / u, (j, 1, K))
    step = rules.expand(-(-2 * z[k] + (2 * eps + 2 * S) * y[k] / u) / (eps + S), CTX)
    assert step.expr == 2 * z[k] / (eps + S) - 2 * y[k] / u
    assert rules.expand(o[k] * (o[k] - y[k]), CTX).expr == o[k] ** 2 - o[k] * y[k]  # no divisor: as before


def test_factor_reads_a_sum_as_one_symbol_and_groups_terms_over_one_denominator():
    P = sp.Sum(o[j] * y[j], (j, 1, K))
    step = rules.factor(((y[k] - P) * P - 2 * y[k] + 2 * P) * o[k], CTX)
    assert sp.expand(step.expr - ((y[k] - P) * P - 2 * y[k] + 2 * P) * o[k]) == 0
    assert sp.count_ops(step.expr) == sp.count_ops((P - 2) * (y[k] - P) * o[k])
    f = 1 + z[k] + z[k] ** 2 / 2
    step = rules.factor(-y[k] * z[k] / f - y[k] / f + z[k] / S + 1 / S, CTX)
    book = (z[k] + 1) * (1 / S - y[k] / f)  # no common denominator S f
    assert sp.simplify(step.expr - book) == 0 and sp.count_ops(step.expr) <= sp.count_ops(book) + 1
    assert (z[k] + 1) in step.expr.args


def test_cancel_a_number_shared_by_a_bracket():
    step = rules.cancel((1 - o[k] ** 2) * (2 * o[k] - 2 * y[k]) / 2, CTX)
    assert step.expr == (1 - o[k] ** 2) * (o[k] - y[k])
    assert rules.cancel((1 - o[k] ** 2) * (2 * o[k] - 3 * y[k]) / 2, CTX) is None


def test_hyperbolic_pairs_exponentials():
    u = z[k] - y[k]
    cosh = rules.hyperbolic(sp.log(sp.exp(u) / 2 + sp.exp(-u) / 2), CTX)
    assert cosh.expr == sp.log(sp.cosh(u)) and cosh.justification == "write the exponentials as cosh"
    tanh = rules.hyperbolic((sp.exp(z[k]) - sp.exp(-z[k])) / (sp.exp(z[k]) + sp.exp(-z[k])) - y[k], CTX)
    assert tanh.expr == sp.tanh(z[k]) - y[k]
    assert tanh.justification == "write the exponentials as cosh, sinh and tanh" and len(tanh.formula) == 3
    assert rules.hyperbolic(sp.sinh(u) * y[k] / sp.cosh(u), CTX).expr == sp.tanh(u) * y[k]
    assert rules.hyperbolic(sp.exp(z[k]) + sp.exp(-z[j]), CTX) is None  # not one argument and its negative
    assert rules.hyperbolic(sp.exp(z[k]) + 2 * sp.exp(-z[k]), CTX) is None  # coefficients differ


# ------------------------------------------------------------------ issue 17.6: one-hot targets, bounds

def test_one_hot_target_writes_each_entry_as_a_delta():
    t = defs.index("t")
    fact = one_hot_at(y, j, t)
    step = rules.one_hot_target(sp.Sum(y[j] * sp.log(o[j]), (j, 1, K)) + y[k], CTX, fact=fact)
    assert step.expr == sp.Sum(sp.KroneckerDelta(j, t) * sp.log(o[j]), (j, 1, K)) + sp.KroneckerDelta(k, t)
    assert step.assumptions == (fact,) and step.rule is Rule.ONE_HOT
    assert rules.one_hot_target(o[k], CTX, fact=fact) is None
    assert rules.one_hot_target(y[k], CTX, fact=normalized(y, j, K)) is None  # not a one-hot statement


def test_a_delta_substitutes_towards_the_index_asked_for():
    t = defs.index("t")
    e = sp.KroneckerDelta(k, t) * o[k]
    assert rules.kronecker_delta(e, CTX, towards=t).expr == sp.KroneckerDelta(k, t) * o[t]
    assert rules.kronecker_delta(e, CTX) is None  # sympy's order (k, t): t is replaced, and o_k has none


def test_factor_takes_out_brackets_around_a_delta_and_the_lowest_power():
    t, g = defs.index("t"), sp.Symbol("gamma", positive=True)
    d = sp.KroneckerDelta(k, t)
    b = (1 - o[t]) ** g - g * o[t] * (1 - o[t]) ** (g - 1) * sp.log(o[t])
    step = rules.factor(sp.expand(o[k] * b - d * b), CTX)
    assert step.expr == (o[k] - d) * b  # the output first in its bracket, the sign in the other
    assert rules.factor(b, CTX) is None  # (1 - o)^g and (1 - o)^(g-1) stay apart: the compiler reads x^(g-1) log x
    lowest = rules.factor(b, CTX, lowest=True).expr
    assert lowest == (1 - o[t]) ** (g - 1) * (1 - o[t] - g * o[t] * sp.log(o[t]))


def test_outputs_minus_targets_turns_each_bracket_and_takes_the_sign_out_of_the_sum():
    t = sp.IndexedBase("t")
    e = o[k] * (o[k] - t[k] + sp.Sum(o[j] * (t[j] - o[j]), (j, 1, K)))
    step = rules.outputs_minus_targets(e, CTX)
    assert step.expr == o[k] * (o[k] - t[k] - sp.Sum(o[j] * (o[j] - t[j]), (j, 1, K)))
    assert rules.outputs_minus_targets(step.expr, CTX) is None
    assert rules.outputs_minus_targets(o[k] * (1 - o[k]), CTX) is None  # 1 - o_k is no target minus output


def test_square_sums_complete_square_and_nonnegative_sum():
    from derive.model import Relation
    v, m = sp.IndexedBase("v"), defs.index("m")
    mean = sp.Sum(o[k] * v[k], (k, 1, K))
    product = sp.Sum(o[k] * v[k] ** 2, (k, 1, K)) - mean * sp.Sum(o[m] * v[m], (m, 1, K))
    squared = rules.square_sums(product, CTX).expr
    assert squared == sp.Sum(o[k] * v[k] ** 2, (k, 1, K)) - mean ** 2
    assert rules.square_sums(mean * sp.Sum(o[m] * v[m] ** 2, (m, 1, K)), CTX) is None  # different summands
    total = softmax_total(o, j, K)
    done = rules.complete_square(squared, CTX, fact=total)
    assert done.expr == sp.Sum(o[k] * (v[k] - sp.Sum(o[j] * v[j], (j, 1, K))) ** 2, (k, 1, K))
    assert done.assumptions == (total,)
    assert rules.complete_square(squared, CTX, fact=normalized(y, j, K)) is None  # the weights are o, not y
    bound = rules.nonnegative_sum(done.expr, CTX)
    assert bound.expr == 0 and bound.relation is Relation.GE
    assert bound.formula == sp.GreaterThan(done.expr.function, 0, evaluate=False)
    assert rules.nonnegative_sum(sp.Sum(o[k] * v[k] * (v[k] - 1), (k, 1, K)), CTX) is None
    assert rules.nonnegative_sum(sp.Sum(z[k] ** 2 * v[k], (k, 1, K)), CTX) is None  # v_k may be negative
