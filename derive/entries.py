"""Every named derivation, with a one-line description, for tools to list."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from .errors import UnknownDerivationError
from .model import Derivation
from .model import Typeset as T  # the descriptions: words with inline $math$, typeset where the format can


@dataclass(frozen=True)
class Entry:
    """A catalogue entry: the public function that builds a derivation, and what it derives."""

    name: str
    build: Callable[..., Derivation]
    description: str
    reference: str

    def __call__(self, **options: object) -> Derivation:
        return self.build(**options)

    @property
    def summary(self) -> str:
        """What it derives, as plain text (the description's mathematics as a terminal shows it)."""
        return self.description.plain if isinstance(self.description, T) else self.description

    def __repr__(self) -> str:
        return f"Entry({self.name!r}: {self.summary})"

    def _repr_html_(self) -> str:
        """Jupyter: the name, what it derives and its reference."""
        from .render.jupyter import entry_html
        return entry_html(self)


def _entries() -> tuple:
    from .recipes.jacobian import softmax_jacobian, softmax_se, softmax_vjp
    from .recipes.labels import softmax_ce_labels
    from .recipes.mlp import mlp_backprop
    from .recipes.regression import softmax_regression
    from .recipes.softmax_ce import softmax_ce
    from .recipes import variants as v
    return (
        Entry("softmax_ce", softmax_ce,
              T(r"cross-entropy on softmax outputs: $\partial E/\partial z_k = o_k - y_k$"), "seed 001"),
        Entry("softmax_jacobian", softmax_jacobian,
              T(r"the softmax Jacobian: $\partial o_i/\partial z_j = o_i (\delta_{ij} - o_j) = [\operatorname{diag}(o) - o o^T]_{ij}$"), "seed 003"),
        Entry("softmax_se", softmax_se,
              "squared error on softmax outputs, through the general backpropagation formula", "seed 003"),
        Entry("softmax_regression", softmax_regression,
              T(r"softmax regression over $m$ examples: $\partial J/\partial \Theta_{kj} = \sum_i (h_k(x^{(i)}) - y_k^{(i)}) x_j^{(i)}$"), "seed 000"),
        Entry("softmax_ce_labels", softmax_ce_labels,
              T(r"integer class labels: $\partial L_i/\partial w_{kd} = (p_{ik} - 1[k = y_i]) x_{id}$"), "seed 002"),
        Entry("mlp_backprop", mlp_backprop,
              "backpropagation through an MLP: BP1-BP4 with sigmoid hidden layers and a softmax output", "seed 004"),
        Entry("softmax_vjp", softmax_vjp,
              T(r"backpropagation through softmax for any cost: $\partial L/\partial z_k = o_k (g_k - \sum_j o_j g_j) = [(\operatorname{diag}(o) - o o^T) g]_k$, $g = \partial L/\partial o$"),
              "seed 003"),
        Entry("softmax_ce_temperature", v.softmax_ce_temperature,
              T(r"cross-entropy on $\operatorname{softmax}(z/T)$: $\partial E/\partial z_k = (o_k - y_k)/T$ (planned)"),
              "Hinton, Vinyals and Dean 2015, Distilling the Knowledge in a Neural Network, section 2.1"),
        Entry("label_smoothing", v.label_smoothing,
              T(r"label-smoothed cross-entropy: $\partial E/\partial z_k = o_k - ((1 - \varepsilon) y_k + \varepsilon/K)$ (planned)"),
              "Szegedy et al. 2016, Rethinking the Inception Architecture for Computer Vision, section 7"),
        Entry("softmax_ce_weighted", v.softmax_ce_weighted,
              T(r"class-weighted cross-entropy: $\partial E/\partial z_k = o_k \sum_j w_j y_j - w_k y_k$ (planned)"),
              "the weight argument of PyTorch's CrossEntropyLoss"),
        Entry("sigmoid_bce", v.sigmoid_bce,
              T(r"sigmoid outputs with binary cross-entropy (multi-label): $\partial E/\partial z_k = s_k - y_k$ (planned)"),
              "PyTorch's BCEWithLogitsLoss"),
        Entry("focal_loss", v.focal_loss,
              T(r"the focal loss $-\sum_j y_j (1 - o_j)^{\gamma} \log o_j$ on softmax outputs, then for a one-hot "
                r"target in the textbook's form, with $p_t = o_t$ the probability of the true class (planned)"),
              "Lin, Goyal, Girshick, He and Dollar 2017, Focal Loss for Dense Object Detection"),
        Entry("log_softmax_nll", v.log_softmax_nll,
              T(r"log-softmax with the negative log-likelihood: $\partial E/\partial z_k = o_k - y_k$, through log-sum-exp (planned)"),
              "PyTorch's LogSoftmax with NLLLoss"),
        Entry("softmax_se_planned", v.softmax_se_planned,
              "squared error on softmax outputs by the planner's own route: the same result as softmax_se", "seed 003"),
        Entry("softmax_ce_hessian", v.softmax_ce_hessian,
              T(r"the Hessian of softmax cross-entropy: $o_k (\delta_{km} - o_m) = [\operatorname{diag}(o) - o o^T]_{km}$, "
                r"$H v$, and $v^T H v \ge 0$ (planned)"), "Bishop 2006, Pattern Recognition and Machine Learning, section 4.3.4"),
    )


def catalogue() -> tuple:
    """Every named derivation as an Entry (name, build function, description)."""
    return _entries()


def entry(name: str) -> Entry:
    """The catalogue entry called ``name``; an UnknownDerivationError names the choices."""
    if not isinstance(name, str):
        raise UnknownDerivationError("name", f"must be a derivation name (str), got {type(name).__name__}")
    for e in _entries():
        if e.name == name:
            return e
    names = ", ".join(e.name for e in _entries())
    raise UnknownDerivationError("name", f"no derivation called {name!r}; choose one of {names}")
