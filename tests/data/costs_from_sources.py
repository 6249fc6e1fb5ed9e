"""Costs over softmax, log-softmax, sigmoid, tanh and softplus layers, taken from papers and framework
documentation, that derive's catalogue does not name (issue 14).

Each record holds the cost as derive text (spelled as its source spells it, even where derive's grammar
does not accept it yet), an independent NumPy implementation of the cost for ONE example written from the
source's formula, and the textbook closed form of its gradient (text, sympy count_ops, and NumPy).
tests/test_costs_from_sources.py checks every textbook gradient against central differences of the NumPy
cost, and derive against both; bench/bench_costs.py measures derive on every record.

Conventions: o = softmax(z), s = sigmoid(z) (entrywise), K classes. Inputs named in `shared` (weights of a
define'd layer) have no example axis; every other input is one example's vector (or matrix) and is
stacked along a leading example axis for derive's compiled function, which then returns, for a shared
wrt, the gradient summed over the examples.
"""
import dataclasses
import re
from typing import Callable, Dict, List, Tuple

import numpy as np

DIMS = {"K": 4, "D": 3, "H": 5, "N": 3}   # classes, input features, hidden units, examples of a batch cost


@dataclasses.dataclass(frozen=True)
class Domain:
    kind: str                 # real | simplex | onehot | binary | multihot | unit | pm1 | positive | count | logprob
    shape: Tuple[str, ...] = ("K",)


@dataclasses.dataclass(frozen=True)
class CostRecord:
    id: str
    source: str                               # title + URL, or paper reference
    cost: str                                 # derive text (docs/grammar.md), as the source spells it
    wrt: str
    inputs: Dict[str, Domain]                 # every vector/matrix input and its sampling domain
    numpy_cost: Callable[[dict], float]       # one example: dict of arrays and scalars -> float
    textbook: str                             # the textbook gradient, SymPy text (x[k], Sum(..., (j, 1, K)))
    numpy_gradient: Callable[[dict], np.ndarray]   # one example -> array shaped like inputs[wrt]
    assume: Tuple[str, ...] = ()
    define: Tuple[str, ...] = ()
    scalars: Dict[str, float] = dataclasses.field(default_factory=dict)   # parameters and sample values
    shared: Tuple[str, ...] = ()              # inputs without an example axis (define'd layer weights)
    note: str = ""
    batch: bool = False                       # the cost sums over a batch itself (z[i, j]): inputs are whole

    @property
    def textbook_ops(self) -> int:
        return textbook_ops(self.textbook)


def textbook_ops(text: str) -> int:
    """sympy.count_ops of the textbook gradient as written (names used with [...] are IndexedBase)."""
    import sympy as sp
    names = set(re.findall(r"\b([A-Za-z_]\w*)\s*\[", text))
    local = {n: sp.IndexedBase(n) for n in names}
    funcs = {"Sum": sp.Sum, "log": sp.log, "exp": sp.exp, "sqrt": sp.sqrt, "tanh": sp.tanh,
             "sigmoid": sp.Function("sigmoid")}
    for n in set(re.findall(r"\b([A-Za-z_]\w*)\b", text)) - names - set(funcs):
        local[n] = sp.Symbol(n, integer=True, positive=True) if n in ("j", "k", "i", "a", "d", "e", "K") \
            else sp.Symbol(n, real=True)
    local.update(funcs)
    return int(sp.count_ops(sp.sympify(text, locals=local)))


# -- numeric building blocks (independent of derive) -----------------------------------------------

def softmax(z):
    e = np.exp(z - np.max(z))
    return e / e.sum()


def sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def softplus(x):
    return np.logaddexp(0.0, x)


def logsumexp(z):
    m = np.max(z)
    return m + np.log(np.exp(z - m).sum())


def sample(rec: CostRecord, rng: np.random.Generator, N: int):
    """Inputs for N examples: (batch dict for derive's compiled function, list of N per-example dicts).
    A batch cost is one "example": its inputs carry their own example axis (DIMS["N"] rows)."""
    N = 1 if rec.batch else N
    batch, rows = {}, [dict(rec.scalars) for _ in range(N)]
    for name, dom in rec.inputs.items():
        shape = tuple(DIMS[s] for s in dom.shape)
        n = 1 if name in rec.shared or rec.batch else N
        arr = np.stack([_draw(dom.kind, shape, rng) for _ in range(n)])
        batch[name] = arr[0] if name in rec.shared or rec.batch else arr
        for i in range(N):
            rows[i][name] = arr[0] if name in rec.shared or rec.batch else arr[i]
    batch.update(rec.scalars)
    return batch, rows


def _draw(kind, shape, rng):
    if len(shape) == 2 and kind in ("simplex", "onehot", "logprob"):  # a batch of targets: row by row
        return np.stack([_draw(kind, shape[1:], rng) for _ in range(shape[0])])
    K = shape[-1] if shape else 1
    if kind == "real":
        return rng.normal(size=shape) * 1.5
    if kind == "simplex":
        return rng.dirichlet(np.ones(K) * 2.0)
    if kind == "onehot":
        return np.eye(K)[rng.integers(K)]
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(float)
    if kind == "multihot":   # binary with at least one 1 (a set of positives)
        while True:
            b = rng.integers(0, 2, size=shape).astype(float)
            if b.any():
                return b
    if kind == "unit":
        return rng.uniform(0.1, 0.9, size=shape)
    if kind == "pm1":
        return rng.choice([-1.0, 1.0], size=shape)
    if kind == "positive":
        return rng.uniform(0.5, 2.0, size=shape)
    if kind == "count":
        return rng.integers(0, 5, size=shape).astype(float)
    if kind == "logprob":
        return np.log(rng.dirichlet(np.ones(K) * 2.0))
    raise ValueError(kind)


def central_difference(rec: CostRecord, row: dict, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of rec.numpy_cost in rec.wrt at one example."""
    x0 = np.asarray(row[rec.wrt], dtype=float)
    g = np.zeros_like(x0)
    for idx in np.ndindex(x0.shape):
        xp, xm = x0.copy(), x0.copy()
        xp[idx] += h
        xm[idx] -= h
        g[idx] = (rec.numpy_cost({**row, rec.wrt: xp}) - rec.numpy_cost({**row, rec.wrt: xm})) / (2 * h)
    return g


R = Domain("real")
SIMPLEX = ("sum(y[j], j) = 1",)
TORCH = "https://pytorch.org/docs/stable/generated/torch.nn."
TF = "https://www.tensorflow.org/api_docs/python/tf/"


def _ce(v):
    return -(v["y"] * np.log(softmax(v["z"]))).sum()


def _ent_grad(o):   # d/dz_k of sum_j o_j log o_j
    return o * (np.log(o) - (o * np.log(o)).sum())


def _pt_grad(o, y):   # d/dz_k of sum_j y_j o_j
    return o * (y - (y * o).sum())


COSTS: List[CostRecord] = []
add = COSTS.append

# -- sigmoid and softplus outputs -------------------------------------------------------------------

add(CostRecord(
    id="bce_pos_weight",
    source="PyTorch BCEWithLogitsLoss with pos_weight: l_c = -w[p_c y_c log sigma(x_c) + (1-y_c) log(1-sigma(x_c))], "
           + TORCH + "BCEWithLogitsLoss.html",
    cost="-sum(p[j]*y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(1 - sigmoid(z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("unit"), "p": Domain("positive")},
    numpy_cost=lambda v: -(v["p"] * v["y"] * np.log(sigmoid(v["z"])) + (1 - v["y"]) * np.log(1 - sigmoid(v["z"]))).sum(),
    textbook="(p[k]*y[k] + 1 - y[k])*s[k] - p[k]*y[k]",
    numpy_gradient=lambda v: (v["p"] * v["y"] + 1 - v["y"]) * sigmoid(v["z"]) - v["p"] * v["y"]))

add(CostRecord(
    id="tf_sigmoid_ce_with_logits",
    source="tf.nn.sigmoid_cross_entropy_with_logits: x - x * z + log(1 + exp(-x)) (non-abs form), "
           + TF + "nn/sigmoid_cross_entropy_with_logits",
    cost="sum(z[j] - z[j]*y[j] + log(1 + exp(-z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("unit")},
    numpy_cost=lambda v: (v["z"] - v["z"] * v["y"] + np.log1p(np.exp(-v["z"]))).sum(),
    textbook="s[k] - y[k]",
    numpy_gradient=lambda v: sigmoid(v["z"]) - v["y"]))

add(CostRecord(
    id="tf_sigmoid_ce_softplus_form",
    source="tf.nn.sigmoid_cross_entropy_with_logits, the x < 0 form: - x * z + log(1 + exp(x)), "
           + TF + "nn/sigmoid_cross_entropy_with_logits",
    cost="sum(-z[j]*y[j] + log(1 + exp(z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("unit")},
    numpy_cost=lambda v: (-v["z"] * v["y"] + softplus(v["z"])).sum(),
    textbook="s[k] - y[k]",
    numpy_gradient=lambda v: sigmoid(v["z"]) - v["y"]))

add(CostRecord(
    id="multilabel_soft_margin",
    source="PyTorch MultiLabelSoftMarginLoss: -1/C sum_i y[i] log((1+exp(-x[i]))^-1) + (1-y[i]) log(exp(-x[i])/(1+exp(-x[i]))), "
           + TORCH + "MultiLabelSoftMarginLoss.html",
    cost="-sum(y[j]*log(1/(1 + exp(-z[j]))) + (1 - y[j])*log(exp(-z[j])/(1 + exp(-z[j]))), j)/K",
    wrt="z", inputs={"z": R, "y": Domain("binary")},
    numpy_cost=lambda v: -(v["y"] * -softplus(-v["z"]) + (1 - v["y"]) * (-v["z"] - softplus(-v["z"]))).sum() / len(v["z"]),
    textbook="(s[k] - y[k])/K",
    numpy_gradient=lambda v: (sigmoid(v["z"]) - v["y"]) / len(v["z"])))

add(CostRecord(
    id="soft_margin",
    source="PyTorch SoftMarginLoss: sum_i log(1 + exp(-y[i]*x[i])) / x.nelement(), y in {-1, 1}, "
           + TORCH + "SoftMarginLoss.html",
    cost="sum(log(1 + exp(-y[j]*z[j])), j)/K",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: softplus(-v["y"] * v["z"]).sum() / len(v["z"]),
    textbook="-y[k]*(1 - sigmoid(y[k]*z[k]))/K",
    numpy_gradient=lambda v: -v["y"] * sigmoid(-v["y"] * v["z"]) / len(v["z"])))

add(CostRecord(
    id="logistic_loss_pm1",
    source="Logistic loss log(1 + exp(-y w^T x)) = -log sigma(y z), y in {-1, 1}: Murphy, Machine Learning: "
           "A Probabilistic Perspective (2012), 8.3.1; scikit-learn LogisticRegression user guide, "
           "https://scikit-learn.org/stable/modules/linear_model.html#logistic-regression",
    cost="-sum(log(sigmoid(y[j]*z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: softplus(-v["y"] * v["z"]).sum(),
    textbook="-y[k]*sigmoid(-y[k]*z[k])",
    numpy_gradient=lambda v: -v["y"] * sigmoid(-v["y"] * v["z"])))

add(CostRecord(
    id="label_smoothed_bce",
    source="Keras BinaryCrossentropy(label_smoothing=eps): targets y*(1 - eps) + 0.5*eps, "
           + TF + "keras/losses/BinaryCrossentropy",
    cost="-sum(((1 - eps)*y[j] + eps/2)*log(sigmoid(z[j])) + (1 - (1 - eps)*y[j] - eps/2)*log(1 - sigmoid(z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")}, scalars={"eps": 0.1},
    numpy_cost=lambda v: -((t := (1 - v["eps"]) * v["y"] + v["eps"] / 2) * np.log(sigmoid(v["z"]))
                           + (1 - t) * np.log(1 - sigmoid(v["z"]))).sum(),
    textbook="s[k] - (1 - eps)*y[k] - eps/2",
    numpy_gradient=lambda v: sigmoid(v["z"]) - (1 - v["eps"]) * v["y"] - v["eps"] / 2))

add(CostRecord(
    id="sigmoid_focal",
    source="Lin et al. 2017, Focal Loss for Dense Object Detection (arXiv:1708.02002), sigmoid form "
           "FL(p_t) = -alpha_t (1 - p_t)^gamma log(p_t); torchvision.ops.sigmoid_focal_loss, "
           "https://pytorch.org/vision/stable/generated/torchvision.ops.sigmoid_focal_loss.html",
    cost="-sum(alpha*y[j]*(1 - sigmoid(z[j]))**gamma*log(sigmoid(z[j])) + (1 - alpha)*(1 - y[j])*sigmoid(z[j])**gamma*log(1 - sigmoid(z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")}, scalars={"alpha": 0.25, "gamma": 2.0},
    numpy_cost=lambda v: -(v["alpha"] * v["y"] * (1 - sigmoid(v["z"])) ** v["gamma"] * np.log(sigmoid(v["z"]))
                           + (1 - v["alpha"]) * (1 - v["y"]) * sigmoid(v["z"]) ** v["gamma"] * np.log(1 - sigmoid(v["z"]))).sum(),
    textbook="alpha*y[k]*(1 - s[k])**gamma*(gamma*s[k]*log(s[k]) - 1 + s[k])"
             " + (1 - alpha)*(1 - y[k])*s[k]**gamma*(s[k] - gamma*(1 - s[k])*log(1 - s[k]))",
    numpy_gradient=lambda v: (lambda s, a, g, y: a * y * (1 - s) ** g * (g * s * np.log(s) - 1 + s)
                              + (1 - a) * (1 - y) * s ** g * (s - g * (1 - s) * np.log(1 - s)))(
        sigmoid(v["z"]), v["alpha"], v["gamma"], v["y"])))

add(CostRecord(
    id="siglip_sigmoid_loss",
    source="Zhai et al. 2023, Sigmoid Loss for Language Image Pre-Training (arXiv:2303.15343): "
           "-log(1/(1 + exp(z_ij(-t x_i.y_j + b)))), z_ij in {-1, 1}; here x_i.y_j is the logit z",
    cost="-sum(log(sigmoid(y[j]*(t*z[j] + b))), j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")}, scalars={"t": 2.0, "b": -1.0},
    numpy_cost=lambda v: softplus(-v["y"] * (v["t"] * v["z"] + v["b"])).sum(),
    textbook="-t*y[k]*sigmoid(-y[k]*(t*z[k] + b))",
    numpy_gradient=lambda v: -v["t"] * v["y"] * sigmoid(-v["y"] * (v["t"] * v["z"] + v["b"]))))

add(CostRecord(
    id="dice_sigmoid",
    source="Milletari et al. 2016, V-Net (arXiv:1606.04797), Dice D = 2 sum p_i g_i / (sum p_i^2 + sum g_i^2); loss 1 - D",
    cost="1 - 2*sum(sigmoid(z[j])*y[j], j)/(sum(sigmoid(z[j])**2, j) + sum(y[j]**2, j))",
    wrt="z", inputs={"z": R, "y": Domain("binary")},
    numpy_cost=lambda v: 1 - 2 * (sigmoid(v["z"]) * v["y"]).sum() / ((sigmoid(v["z"]) ** 2).sum() + (v["y"] ** 2).sum()),
    textbook="-2*s[k]*(1 - s[k])*(y[k]*(Sum(s[j]**2, (j, 1, K)) + Sum(y[j]**2, (j, 1, K)))"
             " - 2*s[k]*Sum(s[j]*y[j], (j, 1, K)))/(Sum(s[j]**2, (j, 1, K)) + Sum(y[j]**2, (j, 1, K)))**2",
    numpy_gradient=lambda v: (lambda s, y: -2 * s * (1 - s) * (y * ((s ** 2).sum() + (y ** 2).sum())
                                                              - 2 * s * (s * y).sum()) / ((s ** 2).sum() + (y ** 2).sum()) ** 2)(
        sigmoid(v["z"]), v["y"])))

add(CostRecord(
    id="log_cosh_sigmoid",
    source="Keras log_cosh: log((exp(x) + exp(-x))/2), x = y_pred - y_true, "
           + TF + "keras/losses/log_cosh; here y_pred = sigmoid(z)",
    cost="sum(log((exp(sigmoid(z[j]) - y[j]) + exp(y[j] - sigmoid(z[j])))/2), j)",
    wrt="z", inputs={"z": R, "y": Domain("unit")},
    numpy_cost=lambda v: np.log(np.cosh(sigmoid(v["z"]) - v["y"])).sum(),
    textbook="tanh(s[k] - y[k])*s[k]*(1 - s[k])",
    numpy_gradient=lambda v: np.tanh(sigmoid(v["z"]) - v["y"]) * sigmoid(v["z"]) * (1 - sigmoid(v["z"]))))

add(CostRecord(
    id="poisson_nll_log_input",
    source="PyTorch PoissonNLLLoss(log_input=True): exp(input) - target*input, " + TORCH + "PoissonNLLLoss.html",
    cost="sum(exp(z[j]) - y[j]*z[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("count")},
    numpy_cost=lambda v: (np.exp(v["z"]) - v["y"] * v["z"]).sum(),
    textbook="exp(z[k]) - y[k]",
    numpy_gradient=lambda v: np.exp(v["z"]) - v["y"]))

add(CostRecord(
    id="poisson_nll_softplus",
    source="PyTorch PoissonNLLLoss(log_input=False): input - target*log(input + eps), " + TORCH
           + "PoissonNLLLoss.html; with a softplus rate input = log(1 + exp(z))",
    cost="sum(log(1 + exp(z[j])) - y[j]*log(log(1 + exp(z[j])) + eps), j)",
    wrt="z", inputs={"z": R, "y": Domain("count")}, scalars={"eps": 1e-8},
    numpy_cost=lambda v: (softplus(v["z"]) - v["y"] * np.log(softplus(v["z"]) + v["eps"])).sum(),
    textbook="s[k]*(1 - y[k]/(log(1 + exp(z[k])) + eps))",
    numpy_gradient=lambda v: sigmoid(v["z"]) * (1 - v["y"] / (softplus(v["z"]) + v["eps"]))))

add(CostRecord(
    id="gaussian_nll_softplus_var",
    source="PyTorch GaussianNLLLoss: 0.5*(log(max(var, eps)) + (input - target)^2/max(var, eps)), " + TORCH
           + "GaussianNLLLoss.html; variance through a softplus, Lakshminarayanan et al. 2017 (arXiv:1612.01474)",
    cost="0.5*sum(log(log(1 + exp(z[j]))) + (mu[j] - y[j])**2/log(1 + exp(z[j])), j)",
    wrt="z", inputs={"z": R, "y": R, "mu": R},
    numpy_cost=lambda v: 0.5 * (np.log(softplus(v["z"])) + (v["mu"] - v["y"]) ** 2 / softplus(v["z"])).sum(),
    textbook="0.5*s[k]*(1/log(1 + exp(z[k])) - (mu[k] - y[k])**2/log(1 + exp(z[k]))**2)",
    numpy_gradient=lambda v: 0.5 * sigmoid(v["z"]) * (1 / softplus(v["z"]) - (v["mu"] - v["y"]) ** 2 / softplus(v["z"]) ** 2)))

# -- tanh outputs -----------------------------------------------------------------------------------

add(CostRecord(
    id="tanh_se",
    source="LeCun et al. 1998, Efficient BackProp: tanh units, squared error 1/2 sum (t - y)^2",
    cost="0.5*sum((tanh(z[j]) - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: 0.5 * ((np.tanh(v["z"]) - v["y"]) ** 2).sum(),
    textbook="(tanh(z[k]) - y[k])*(1 - tanh(z[k])**2)",
    numpy_gradient=lambda v: (np.tanh(v["z"]) - v["y"]) * (1 - np.tanh(v["z"]) ** 2)))

add(CostRecord(
    id="tanh_se_exp",
    source="as tanh_se, tanh(x) = (exp(x) - exp(-x))/(exp(x) + exp(-x)) written out",
    cost="0.5*sum(((exp(z[j]) - exp(-z[j]))/(exp(z[j]) + exp(-z[j])) - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: 0.5 * ((np.tanh(v["z"]) - v["y"]) ** 2).sum(),
    textbook="(tanh(z[k]) - y[k])*(1 - tanh(z[k])**2)",
    numpy_gradient=lambda v: (np.tanh(v["z"]) - v["y"]) * (1 - np.tanh(v["z"]) ** 2)))

add(CostRecord(
    id="tanh_se_via_sigmoid",
    source="as tanh_se, tanh(x) = 2 sigmoid(2x) - 1",
    cost="0.5*sum((2*sigmoid(2*z[j]) - 1 - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: 0.5 * ((2 * sigmoid(2 * v["z"]) - 1 - v["y"]) ** 2).sum(),
    textbook="(tanh(z[k]) - y[k])*(1 - tanh(z[k])**2)",
    numpy_gradient=lambda v: (np.tanh(v["z"]) - v["y"]) * (1 - np.tanh(v["z"]) ** 2)))

# -- softmax and log-softmax outputs --------------------------------------------------------------------

add(CostRecord(
    id="ce_logsumexp",
    source="PyTorch CrossEntropyLoss with class probabilities, -sum_c y_c log(exp(x_c)/sum_i exp(x_i)) = "
           "logsumexp(x) - sum_c y_c x_c, " + TORCH + "CrossEntropyLoss.html",
    cost="log(sum(exp(z[j]), j)) - sum(y[j]*z[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX,
    numpy_cost=lambda v: logsumexp(v["z"]) - (v["y"] * v["z"]).sum(),
    textbook="o[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"]))

add(CostRecord(
    id="ce_pytorch_exp_form",
    source="PyTorch CrossEntropyLoss: l_n = -sum_c w_c log(exp(x_n,c)/sum_i exp(x_n,i)) y_n,c (w_c = 1), "
           + TORCH + "CrossEntropyLoss.html",
    cost="-sum(y[j]*log(exp(z[j])/sum(exp(z[i]), i)), j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX,
    numpy_cost=lambda v: -(v["y"] * np.log(np.exp(v["z"]) / np.exp(v["z"]).sum())).sum(),
    textbook="o[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"]))

add(CostRecord(
    id="kl_div_log_softmax",
    source="PyTorch KLDivLoss: target*(log(target) - input), input = log_softmax(z), " + TORCH + "KLDivLoss.html",
    cost="sum(y[j]*(log(y[j]) - log_softmax(z)[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX,
    numpy_cost=lambda v: (v["y"] * (np.log(v["y"]) - (v["z"] - logsumexp(v["z"])))).sum(),
    textbook="o[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"]))

add(CostRecord(
    id="kl_div_log_target",
    source="PyTorch KLDivLoss(log_target=True): exp(target)*(target - input), input = log_softmax(z), "
           + TORCH + "KLDivLoss.html",
    cost="sum(exp(t[j])*(t[j] - log_softmax(z)[j]), j)",
    wrt="z", inputs={"z": R, "t": Domain("logprob")},
    numpy_cost=lambda v: (np.exp(v["t"]) * (v["t"] - (v["z"] - logsumexp(v["z"])))).sum(),
    textbook="o[k]*Sum(exp(t[j]), (j, 1, K)) - exp(t[k])",
    numpy_gradient=lambda v: softmax(v["z"]) * np.exp(v["t"]).sum() - np.exp(v["t"])))

add(CostRecord(
    id="kd_hinton",
    source="Hinton, Vinyals, Dean 2015, Distilling the Knowledge in a Neural Network (arXiv:1503.02531): "
           "soft targets softmax(v/T), gradients scaled by T^2; KL(p_T || q_T)",
    cost="T**2*sum(softmax(v/T)[j]*(log(softmax(v/T)[j]) - log(softmax(z/T)[j])), j)",
    wrt="z", inputs={"z": R, "v": R}, scalars={"T": 2.0},
    numpy_cost=lambda v: v["T"] ** 2 * (softmax(v["v"] / v["T"]) * (np.log(softmax(v["v"] / v["T"]))
                                                                     - np.log(softmax(v["z"] / v["T"])))).sum(),
    textbook="T*(q[k] - p[k])",
    numpy_gradient=lambda v: v["T"] * (softmax(v["z"] / v["T"]) - softmax(v["v"] / v["T"])),
    note="q = softmax(z/T), p = softmax(v/T)"))

add(CostRecord(
    id="kd_combined",
    source="Hinton et al. 2015 (arXiv:1503.02531): weighted average of the hard-target cross-entropy and the "
           "T^2-scaled soft-target term",
    cost="-alpha*sum(y[j]*log(softmax(z)[j]), j) + (1 - alpha)*T**2*sum(softmax(v/T)[j]*(log(softmax(v/T)[j]) - log(softmax(z/T)[j])), j)",
    wrt="z", inputs={"z": R, "v": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"T": 3.0, "alpha": 0.3},
    numpy_cost=lambda v: v["alpha"] * _ce(v) + (1 - v["alpha"]) * v["T"] ** 2 * (
        softmax(v["v"] / v["T"]) * (np.log(softmax(v["v"] / v["T"])) - np.log(softmax(v["z"] / v["T"])))).sum(),
    textbook="alpha*(o[k] - y[k]) + (1 - alpha)*T*(q[k] - p[k])",
    numpy_gradient=lambda v: v["alpha"] * (softmax(v["z"]) - v["y"])
    + (1 - v["alpha"]) * v["T"] * (softmax(v["z"] / v["T"]) - softmax(v["v"] / v["T"]))))

add(CostRecord(
    id="confidence_penalty",
    source="Pereyra et al. 2017, Regularizing Neural Networks by Penalizing Confident Output Distributions "
           "(arXiv:1701.06548): L - beta H(p_theta(y|x))",
    cost="-sum(y[j]*log(softmax(z)[j]), j) - beta*(-sum(softmax(z)[j]*log(softmax(z)[j]), j))",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"beta": 0.3},
    numpy_cost=lambda v: _ce(v) + v["beta"] * (softmax(v["z"]) * np.log(softmax(v["z"]))).sum(),
    textbook="o[k] - y[k] + beta*o[k]*(log(o[k]) - Sum(o[j]*log(o[j]), (j, 1, K)))",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"] + v["beta"] * _ent_grad(softmax(v["z"]))))

add(CostRecord(
    id="entropy_minimization",
    source="Grandvalet & Bengio 2005, Semi-supervised Learning by Entropy Minimization (NIPS 17): "
           "H = -sum_k p_k log p_k on unlabelled examples",
    cost="-sum(softmax(z)[j]*log(softmax(z)[j]), j)",
    wrt="z", inputs={"z": R},
    numpy_cost=lambda v: -(softmax(v["z"]) * np.log(softmax(v["z"]))).sum(),
    textbook="-o[k]*(log(o[k]) - Sum(o[j]*log(o[j]), (j, 1, K)))",
    numpy_gradient=lambda v: -_ent_grad(softmax(v["z"]))))

add(CostRecord(
    id="brier_score",
    source="Brier 1950, Verification of forecasts expressed in terms of probability (Monthly Weather Review 78): "
           "sum_j (f_j - E_j)^2 per forecast",
    cost="sum((softmax(z)[j] - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")},
    numpy_cost=lambda v: ((softmax(v["z"]) - v["y"]) ** 2).sum(),
    textbook="2*o[k]*(o[k] - y[k] - Sum(o[j]*(o[j] - y[j]), (j, 1, K)))",
    numpy_gradient=lambda v: (lambda o, d: 2 * o * (d - (o * d).sum()))(softmax(v["z"]), softmax(v["z"]) - v["y"])))

add(CostRecord(
    id="poly1",
    source="Leng et al. 2022, PolyLoss: A Polynomial Expansion Perspective of Classification Loss Functions "
           "(ICLR 2022, arXiv:2204.12511): Poly-1 = -log(P_t) + eps (1 - P_t), P_t = sum(labels*softmax(logits))",
    cost="-sum(y[j]*log(softmax(z)[j]), j) + eps*(1 - sum(y[j]*softmax(z)[j], j))",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"eps": 1.0},
    numpy_cost=lambda v: _ce(v) + v["eps"] * (1 - (v["y"] * softmax(v["z"])).sum()),
    textbook="o[k] - y[k] - eps*o[k]*(y[k] - Sum(y[j]*o[j], (j, 1, K)))",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"] - v["eps"] * _pt_grad(softmax(v["z"]), v["y"])))

add(CostRecord(
    id="generalized_ce",
    source="Zhang & Sabuncu 2018, Generalized Cross Entropy Loss for Training Deep Neural Networks with Noisy Labels "
           "(NeurIPS 2018, arXiv:1805.07836): L_q(f(x), e_j) = (1 - f_j(x)^q)/q",
    cost="(1 - sum(y[j]*softmax(z)[j], j)**q)/q",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, scalars={"q": 0.7},
    numpy_cost=lambda v: (1 - (v["y"] * softmax(v["z"])).sum() ** v["q"]) / v["q"],
    textbook="-Sum(y[j]*o[j], (j, 1, K))**(q - 1)*o[k]*(y[k] - Sum(y[j]*o[j], (j, 1, K)))",
    numpy_gradient=lambda v: -((v["y"] * softmax(v["z"])).sum() ** (v["q"] - 1)) * _pt_grad(softmax(v["z"]), v["y"])))

add(CostRecord(
    id="mae_softmax",
    source="Ghosh, Kumar, Sastry 2017, Robust Loss Functions under Label Noise for Deep Neural Networks (AAAI 2017): "
           "MAE ||e_j - f(x)||_1 = 2 - 2 f_j(x) for a one-hot target",
    cost="2 - 2*sum(y[j]*softmax(z)[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")},
    numpy_cost=lambda v: np.abs(v["y"] - softmax(v["z"])).sum(),
    textbook="-2*o[k]*(y[k] - Sum(y[j]*o[j], (j, 1, K)))",
    numpy_gradient=lambda v: -2 * _pt_grad(softmax(v["z"]), v["y"]),
    note="the NumPy cost is the L1 norm itself; it equals the text for one-hot y"))

add(CostRecord(
    id="symmetric_ce",
    source="Wang et al. 2019, Symmetric Cross Entropy for Robust Learning with Noisy Labels (ICCV 2019, "
           "arXiv:1908.06112): SL = alpha CE + beta RCE, RCE = -sum_k p(k|x) log q(k|x) (targets clipped > 0)",
    cost="-alpha*sum(y[j]*log(softmax(z)[j]), j) - beta*sum(softmax(z)[j]*log(y[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX, scalars={"alpha": 0.1, "beta": 1.0},
    numpy_cost=lambda v: v["alpha"] * _ce(v) - v["beta"] * (softmax(v["z"]) * np.log(v["y"])).sum(),
    textbook="alpha*(o[k] - y[k]) - beta*o[k]*(log(y[k]) - Sum(o[j]*log(y[j]), (j, 1, K)))",
    numpy_gradient=lambda v: (lambda o: v["alpha"] * (o - v["y"]) - v["beta"] * o * (np.log(v["y"]) - (o * np.log(v["y"])).sum()))(
        softmax(v["z"]))))

add(CostRecord(
    id="normalized_ce",
    source="Ma et al. 2020, Normalized Loss Functions for Deep Learning with Noisy Labels (ICML 2020, "
           "arXiv:2006.13554): NCE = -sum_k q(k|x) log p(k|x) / (-sum_j sum_k q(y=j|x) log p(k|x))",
    cost="sum(y[j]*log(softmax(z)[j]), j)/sum(log(softmax(z)[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX,
    numpy_cost=lambda v: (v["y"] * np.log(softmax(v["z"]))).sum() / np.log(softmax(v["z"])).sum(),
    textbook="((y[k] - o[k])*Sum(log(o[j]), (j, 1, K)) - (1 - K*o[k])*Sum(y[j]*log(o[j]), (j, 1, K)))"
             "/Sum(log(o[j]), (j, 1, K))**2",
    numpy_gradient=lambda v: (lambda o, y: ((y - o) * np.log(o).sum() - (1 - len(o) * o) * (y * np.log(o)).sum())
                              / np.log(o).sum() ** 2)(softmax(v["z"]), v["y"])))

add(CostRecord(
    id="pseudo_huber_softmax",
    source="Pseudo-Huber loss delta^2 (sqrt(1 + (a/delta)^2) - 1) (Charbonnier et al. 1997; Hartley & Zisserman 2003, "
           "A6.8), https://en.wikipedia.org/wiki/Huber_loss#Pseudo-Huber_loss_function; on softmax outputs",
    cost="sum(delta**2*(sqrt(1 + ((softmax(z)[j] - y[j])/delta)**2) - 1), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, scalars={"delta": 0.5},
    numpy_cost=lambda v: (v["delta"] ** 2 * (np.sqrt(1 + ((softmax(v["z"]) - v["y"]) / v["delta"]) ** 2) - 1)).sum(),
    textbook="o[k]*((o[k] - y[k])/sqrt(1 + ((o[k] - y[k])/delta)**2)"
             " - Sum(o[j]*(o[j] - y[j])/sqrt(1 + ((o[j] - y[j])/delta)**2), (j, 1, K)))",
    numpy_gradient=lambda v: (lambda o, d: (lambda g: o * (g - (o * g).sum()))(d / np.sqrt(1 + (d / v["delta"]) ** 2)))(
        softmax(v["z"]), softmax(v["z"]) - v["y"])))

add(CostRecord(
    id="ldam",
    source="Cao et al. 2019, Learning Imbalanced Datasets with Label-Distribution-Aware Margin Loss (NeurIPS 2019, "
           "arXiv:1906.07413): -log(exp(z_y - Delta_y)/(exp(z_y - Delta_y) + sum_{j != y} exp(z_j)))",
    cost="-sum(y[j]*log(softmax(g)[j]), j)", define=("g[j] = z[j] - m[j]*y[j]",),
    wrt="z", inputs={"z": R, "y": Domain("onehot"), "m": Domain("unit")}, assume=SIMPLEX,
    numpy_cost=lambda v: -(v["y"] * np.log(softmax(v["z"] - v["m"] * v["y"]))).sum(),
    textbook="q[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"] - v["m"] * v["y"]) - v["y"],
    note="q = softmax(z - m*y); m_j = C/n_j^(1/4) per class. Inside softmax(v) a bare name in a product with a "
         "known vector is a scalar (docs/grammar.md: softmax(z - m*y) is AM-softmax's one margin), so the per-class "
         "margins are read as a vector through the definition of the adjusted logits g"))

add(CostRecord(
    id="am_softmax",
    source="Wang et al. 2018, Additive Margin Softmax for Face Verification (arXiv:1801.05599): "
           "-log(exp(s(cos theta_y - m))/(exp(s(cos theta_y - m)) + sum_{j != y} exp(s cos theta_j)))",
    cost="-sum(y[j]*log(softmax(s*(z - m*y))[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"s": 3.0, "m": 0.35},
    numpy_cost=lambda v: -(v["y"] * np.log(softmax(v["s"] * (v["z"] - v["m"] * v["y"])))).sum(),
    textbook="s*(q[k] - y[k])",
    numpy_gradient=lambda v: v["s"] * (softmax(v["s"] * (v["z"] - v["m"] * v["y"])) - v["y"])))

add(CostRecord(
    id="logit_adjusted",
    source="Menon et al. 2021, Long-tail Learning via Logit Adjustment (ICLR 2021, arXiv:2007.07314): "
           "-log(exp(f_y + tau log pi_y)/sum_y' exp(f_y' + tau log pi_y'))",
    cost="-sum(y[j]*log(softmax(z + tau*log(p))[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot"), "p": Domain("simplex")}, assume=SIMPLEX, scalars={"tau": 1.0},
    numpy_cost=lambda v: -(v["y"] * np.log(softmax(v["z"] + v["tau"] * np.log(v["p"])))).sum(),
    textbook="q[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"] + v["tau"] * np.log(v["p"])) - v["y"]))

add(CostRecord(
    id="energy_score",
    source="Liu et al. 2020, Energy-based Out-of-distribution Detection (NeurIPS 2020, arXiv:2010.03759): "
           "E(x; f) = -T log sum_i exp(f_i(x)/T)",
    cost="-T*log(sum(exp(z[j]/T), j))",
    wrt="z", inputs={"z": R}, scalars={"T": 1.5},
    numpy_cost=lambda v: -v["T"] * logsumexp(v["z"] / v["T"]),
    textbook="-q[k]",
    numpy_gradient=lambda v: -softmax(v["z"] / v["T"]),
    note="q = softmax(z/T)"))

# -- a scalar wrt ---------------------------------------------------------------------------------------

add(CostRecord(
    id="temperature_scaling_T",
    source="Guo et al. 2017, On Calibration of Modern Neural Networks (ICML 2017, arXiv:1706.04599): "
           "temperature scaling, T fitted by minimising the NLL of softmax(z/T)",
    cost="-sum(y[j]*log(softmax(z/T)[j]), j)",
    wrt="T", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"T": 1.7},
    numpy_cost=lambda v: -(v["y"] * np.log(softmax(v["z"] / v["T"]))).sum(),
    textbook="Sum((y[j] - q[j])*z[j], (j, 1, K))/T**2",
    numpy_gradient=lambda v: np.asarray(((v["y"] - softmax(v["z"] / v["T"])) * v["z"]).sum() / v["T"] ** 2),
    note="wrt a scalar; q = softmax(z/T)"))

# -- layers, biases, batches --------------------------------------------------------------------------------

add(CostRecord(
    id="quadratic_sigmoid_w",
    source="Nielsen, Neural Networks and Deep Learning, ch. 2 (BP1, BP4): C = 1/2 ||y - a^L||^2, "
           "dC/dw_jk = a_k delta_j, http://neuralnetworksanddeeplearning.com/chap2.html",
    cost="0.5*sum((sigmoid(z[j]) - y[j])**2, j)",
    wrt="w", define=("z[j] = sum(w[j, d]*x[d], d) + b[j]",),
    inputs={"w": Domain("real", ("K", "D")), "b": R, "x": Domain("real", ("D",)), "y": Domain("unit")},
    shared=("w", "b"),
    numpy_cost=lambda v: 0.5 * ((sigmoid(v["w"] @ v["x"] + v["b"]) - v["y"]) ** 2).sum(),
    textbook="(s[k] - y[k])*s[k]*(1 - s[k])*x[e]",
    numpy_gradient=lambda v: np.outer((lambda s: (s - v["y"]) * s * (1 - s))(sigmoid(v["w"] @ v["x"] + v["b"])), v["x"])))

add(CostRecord(
    id="softmax_ce_bias",
    source="Goodfellow, Bengio, Courville 2016, Deep Learning, 6.2.2.3 and 6.5: softmax output layer z = W^T h + b, "
           "dL/db = o - y; https://www.deeplearningbook.org/contents/mlp.html",
    cost="-sum(y[j]*log(softmax(z)[j]), j)",
    wrt="b", define=("z[j] = sum(w[j, d]*x[d], d) + b[j]",), assume=SIMPLEX,
    inputs={"w": Domain("real", ("K", "D")), "b": R, "x": Domain("real", ("D",)), "y": Domain("onehot")},
    shared=("w", "b"),
    numpy_cost=lambda v: _ce({"z": v["w"] @ v["x"] + v["b"], "y": v["y"]}),
    textbook="o[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["w"] @ v["x"] + v["b"]) - v["y"]))

add(CostRecord(
    id="batch_mean_ce_linear",
    source="PyTorch CrossEntropyLoss(reduction='mean'): sum_n l_n / N over a batch, " + TORCH
           + "CrossEntropyLoss.html; linear layer z = W x",
    cost="-sum(y[j]*log(softmax(z)[j]), j)/N",
    wrt="w", define=("z[j] = sum(w[j, d]*x[d], d)",), assume=SIMPLEX,
    inputs={"w": Domain("real", ("K", "D")), "x": Domain("real", ("D",)), "y": Domain("onehot")},
    shared=("w",), scalars={"N": 3.0},
    numpy_cost=lambda v: _ce({"z": v["w"] @ v["x"], "y": v["y"]}) / v["N"],
    textbook="(o[k] - y[k])*x[e]/N",
    numpy_gradient=lambda v: np.outer(softmax(v["w"] @ v["x"]) - v["y"], v["x"]) / v["N"],
    note="a batch cost: N is the batch size (3 in the tests); summed over the batch it is the mean"))

add(CostRecord(
    id="hidden_sigmoid_ce_w2",
    source="Bishop 2006, Pattern Recognition and Machine Learning, 5.3.2 (two-layer network, backpropagation): "
           "dE/dw_kj^(2) = delta_k z_j with delta_k = y_k - t_k",
    cost="-sum(y[j]*log(softmax(z)[j]), j)",
    wrt="w2", define=("h[a] = sigmoid(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"), assume=SIMPLEX,
    inputs={"w1": Domain("real", ("H", "D")), "w2": Domain("real", ("K", "H")), "x": Domain("real", ("D",)),
            "y": Domain("onehot")},
    shared=("w1", "w2"),
    numpy_cost=lambda v: _ce({"z": v["w2"] @ sigmoid(v["w1"] @ v["x"]), "y": v["y"]}),
    textbook="(o[k] - y[k])*h[e]",
    numpy_gradient=lambda v: (lambda h: np.outer(softmax(v["w2"] @ h) - v["y"], h))(sigmoid(v["w1"] @ v["x"]))))

add(CostRecord(
    id="hidden_tanh_ce_w1",
    source="Bishop 2006, Pattern Recognition and Machine Learning, 5.3.2 (tanh hidden units, eq. 5.56): "
           "delta_j = (1 - z_j^2) sum_k w_kj delta_k, dE/dw_ji^(1) = delta_j x_i",
    cost="-sum(y[j]*log(softmax(z)[j]), j)",
    wrt="w1", define=("h[a] = tanh(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"), assume=SIMPLEX,
    inputs={"w1": Domain("real", ("H", "D")), "w2": Domain("real", ("K", "H")), "x": Domain("real", ("D",)),
            "y": Domain("onehot")},
    shared=("w1", "w2"),
    numpy_cost=lambda v: _ce({"z": v["w2"] @ np.tanh(v["w1"] @ v["x"]), "y": v["y"]}),
    textbook="(1 - h[a]**2)*Sum(w2[j, a]*(o[j] - y[j]), (j, 1, K))*x[e]",
    numpy_gradient=lambda v: (lambda h: np.outer((1 - h ** 2) * (v["w2"].T @ (softmax(v["w2"] @ h) - v["y"])), v["x"]))(
        np.tanh(v["w1"] @ v["x"]))))

add(CostRecord(
    id="hidden_sigmoid_ce_w1",
    source="Rumelhart, Hinton, Williams 1986, Learning representations by back-propagating errors (Nature 323): "
           "delta_j = y_j (1 - y_j) sum_k delta_k w_kj for logistic hidden units",
    cost="-sum(y[j]*log(softmax(z)[j]), j)",
    wrt="w1", define=("h[a] = sigmoid(sum(w1[a, d]*x[d], d))", "z[j] = sum(w2[j, a]*h[a], a)"), assume=SIMPLEX,
    inputs={"w1": Domain("real", ("H", "D")), "w2": Domain("real", ("K", "H")), "x": Domain("real", ("D",)),
            "y": Domain("onehot")},
    shared=("w1", "w2"),
    numpy_cost=lambda v: _ce({"z": v["w2"] @ sigmoid(v["w1"] @ v["x"]), "y": v["y"]}),
    textbook="h[a]*(1 - h[a])*Sum(w2[j, a]*(o[j] - y[j]), (j, 1, K))*x[e]",
    numpy_gradient=lambda v: (lambda h: np.outer(h * (1 - h) * (v["w2"].T @ (softmax(v["w2"] @ h) - v["y"])), v["x"]))(
        sigmoid(v["w1"] @ v["x"]))))

add(CostRecord(
    id="multilabel_bce_linear_w",
    source="PyTorch BCEWithLogitsLoss on a linear layer (multi-label logistic regression), " + TORCH
           + "BCEWithLogitsLoss.html; dL/dW = (sigma(Wx) - y) x^T",
    cost="-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(1 - sigmoid(z[j])), j)",
    wrt="w", define=("z[j] = sum(w[j, d]*x[d], d)",),
    inputs={"w": Domain("real", ("K", "D")), "x": Domain("real", ("D",)), "y": Domain("binary")},
    shared=("w",),
    numpy_cost=lambda v: (softplus(v["w"] @ v["x"]) - v["y"] * (v["w"] @ v["x"])).sum(),
    textbook="(s[k] - y[k])*x[e]",
    numpy_gradient=lambda v: np.outer(sigmoid(v["w"] @ v["x"]) - v["y"], v["x"])))

# -- batches: the cost names its example axis, z[i, j], and sums or averages over it ----------------------

ROWS = ("sum(y[i, j], j) = 1",)
NK, ND = Domain("real", ("N", "K")), Domain("real", ("N", "D"))
CS231N = "https://cs231n.github.io/neural-networks-case-study/"


def _softmax_rows(z):
    e = np.exp(z - z.max(1, keepdims=True))
    return e / e.sum(1, keepdims=True)


def _ce_rows(z, y):
    return -(y * np.log(_softmax_rows(z))).sum()


add(CostRecord(
    id="batch_softmax_ce_matrix",
    source="CS231n, Putting it together: training a softmax classifier: data_loss = sum_i -log p_i,y_i / N, "
           "dW = X^T (P - Y) / N, " + CS231N + "; PyTorch CrossEntropyLoss(reduction='mean'), sum_n l_n / N",
    cost="-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)/N",
    wrt="w", define=("z[i, j] = sum(w[j, d]*x[i, d], d)",), assume=ROWS, batch=True,
    inputs={"w": Domain("real", ("K", "D")), "x": ND, "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(v["x"] @ v["w"].T, v["y"]) / len(v["x"]),
    textbook="Sum((o[i, k] - y[i, k])*x[i, e], (i, 1, N))/N",
    numpy_gradient=lambda v: (_softmax_rows(v["x"] @ v["w"].T) - v["y"]).T @ v["x"] / len(v["x"]),
    note="a batch cost; derive adds the matrix form [(O - Y)^T X / N]_ke"))

add(CostRecord(
    id="batch_softmax_ce_bias",
    source="CS231n, Putting it together: training a softmax classifier: db = sum over the examples of dscores, "
           "dscores = (P - Y) / N, " + CS231N,
    cost="-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)/N",
    wrt="b", define=("z[i, j] = sum(w[j, d]*x[i, d], d) + b[j]",), assume=ROWS, batch=True,
    inputs={"w": Domain("real", ("K", "D")), "b": R, "x": ND, "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(v["x"] @ v["w"].T + v["b"], v["y"]) / len(v["x"]),
    textbook="Sum(o[i, k] - y[i, k], (i, 1, N))/N",
    numpy_gradient=lambda v: (_softmax_rows(v["x"] @ v["w"].T + v["b"]) - v["y"]).sum(0) / len(v["x"])))

add(CostRecord(
    id="batch_bce_mean_matrix",
    source="PyTorch BCEWithLogitsLoss(reduction='mean') over an (N, C) batch: the mean of every element's "
           "-[y log sigma(x) + (1 - y) log(1 - sigma(x))], " + TORCH + "BCEWithLogitsLoss.html",
    cost="-sum(sum(y[i, j]*log(sigmoid(z[i, j])) + (1 - y[i, j])*log(1 - sigmoid(z[i, j])), j), i)/(N*K)",
    wrt="w", define=("z[i, j] = sum(w[j, d]*x[i, d], d)",), batch=True,
    inputs={"w": Domain("real", ("K", "D")), "x": ND, "y": Domain("binary", ("N", "K"))},
    numpy_cost=lambda v: (softplus(v["x"] @ v["w"].T) - v["y"] * (v["x"] @ v["w"].T)).sum() / v["y"].size,
    textbook="Sum((s[i, k] - y[i, k])*x[i, e], (i, 1, N))/(N*K)",
    numpy_gradient=lambda v: (sigmoid(v["x"] @ v["w"].T) - v["y"]).T @ v["x"] / v["y"].size))

add(CostRecord(
    id="batch_log_softmax_nll_sum",
    source="PyTorch NLLLoss(reduction='sum') on LogSoftmax outputs: sum_n -x_n,y_n, " + TORCH + "NLLLoss.html",
    cost="-sum(sum(y[i, j]*log_softmax(z[i])[j], j), i)",
    wrt="w", define=("z[i, j] = sum(w[j, d]*x[i, d], d)",), assume=ROWS, batch=True,
    inputs={"w": Domain("real", ("K", "D")), "x": ND, "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(v["x"] @ v["w"].T, v["y"]),
    textbook="Sum((o[i, k] - y[i, k])*x[i, e], (i, 1, N))",
    numpy_gradient=lambda v: (_softmax_rows(v["x"] @ v["w"].T) - v["y"]).T @ v["x"]))

add(CostRecord(
    id="batch_hidden_tanh_ce_w2",
    source="Bishop 2006, Pattern Recognition and Machine Learning, 5.3 (eq. 5.11 and 5.46): E = sum_n E_n, "
           "grad E = sum_n grad E_n; tanh hidden units, dE_n/dw_kj^(2) = delta_k z_j",
    cost="-sum(sum(y[i, j]*log(softmax(z[i])[j]), j), i)",
    wrt="w2", define=("h[i, a] = tanh(sum(w1[a, d]*x[i, d], d))", "z[i, j] = sum(w2[j, a]*h[i, a], a)"),
    assume=ROWS, batch=True,
    inputs={"w1": Domain("real", ("H", "D")), "w2": Domain("real", ("K", "H")), "x": ND,
            "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(np.tanh(v["x"] @ v["w1"].T) @ v["w2"].T, v["y"]),
    textbook="Sum((o[i, k] - y[i, k])*h[i, e], (i, 1, N))",
    numpy_gradient=lambda v: (lambda h: (_softmax_rows(h @ v["w2"].T) - v["y"]).T @ h)(np.tanh(v["x"] @ v["w1"].T))))

add(CostRecord(
    id="attention_scores_query",
    source="Luong, Pham, Manning 2015, Effective Approaches to Attention-based Neural Machine Translation "
           "(arXiv:1508.04025), dot score score(h_t, h_s) = h_t^T h_s, a_t = softmax over s; trained as a pointer "
           "(Vinyals et al. 2015, Pointer Networks, arXiv:1506.03134): -log a_t at the target position",
    cost="-sum(y[j]*log(softmax(a)[j]), j)",
    wrt="q", define=("a[j] = sum(k[j, d]*q[d], d)",), assume=SIMPLEX,
    inputs={"k": Domain("real", ("K", "D")), "q": Domain("real", ("D",)), "y": Domain("onehot")},
    shared=("k",),
    numpy_cost=lambda v: _ce({"z": v["k"] @ v["q"], "y": v["y"]}),
    textbook="Sum((o[j] - y[j])*k[j, e], (j, 1, K))",
    numpy_gradient=lambda v: v["k"].T @ (softmax(v["k"] @ v["q"]) - v["y"]),
    note="keys k shared, one query per example"))

# -- issue 14 re-audit: costs found with the search tool (pages and docs corpora), not in the first round --

TIMM_CE = "https://github.com/huggingface/pytorch-image-models/blob/main/timm/loss/cross_entropy.py"


def _log_softmax(z):
    return z - logsumexp(z)


def _js_grad(o, y):   # d/dz_k of JSD(y // o), g_j = dJSD/do_j = log(2 o_j/(y_j + o_j))/2
    g = 0.5 * np.log(2 * o / (y + o))
    return o * (g - (o * g).sum())


add(CostRecord(
    id="timm_label_smoothing_ce",
    source="timm LabelSmoothingCrossEntropy (as PyTorch CrossEntropyLoss(label_smoothing=eps)): "
           "confidence*nll_loss + smoothing*smooth_loss, smooth_loss = -logprobs.mean(dim=-1), " + TIMM_CE
           + "; " + TORCH + "CrossEntropyLoss.html",
    cost="(1 - eps)*(-sum(y[j]*log_softmax(z)[j], j)) + eps*mean(-log_softmax(z)[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"eps": 0.1},
    numpy_cost=lambda v: -(1 - v["eps"]) * (v["y"] * _log_softmax(v["z"])).sum() - v["eps"] * _log_softmax(v["z"]).mean(),
    textbook="o[k] - (1 - eps)*y[k] - eps/K",
    numpy_gradient=lambda v: softmax(v["z"]) - (1 - v["eps"]) * v["y"] - v["eps"] / len(v["z"])))

add(CostRecord(
    id="simclr_nt_xent_exp_form",
    source="Chen et al. 2020, A Simple Framework for Contrastive Learning of Visual Representations (SimCLR, "
           "arXiv:2002.05709): l_ij = -log(exp(sim(z_i, z_j)/tau) / sum_k 1[k != i] exp(sim(z_i, z_k)/tau)), "
           "https://paperswithcode.com/method/nt-xent; here the similarities of one anchor are the scores z",
    cost="-sum(y[j]*log(exp(z[j]/tau)/sum(exp(z[l]/tau), l)), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"tau": 0.5},
    numpy_cost=lambda v: -(v["y"] * _log_softmax(v["z"] / v["tau"])).sum(),
    textbook="(o[k] - y[k])/tau",
    numpy_gradient=lambda v: (softmax(v["z"] / v["tau"]) - v["y"]) / v["tau"]))

add(CostRecord(
    id="infonce_batch_queries",
    source="van den Oord, Li, Vinyals 2018, Representation Learning with Contrastive Predictive Coding "
           "(arXiv:1807.03748), InfoNCE; as nidl.losses.InfoNCE(temperature) states it, "
           "https://neurospin-deepinsight.github.io/nidl/modules/generated/nidl.losses.InfoNCE.html: "
           "L_i = -log(exp(sim(q_i, c_pos)/tau)/sum_k exp(sim(q_i, c_k)/tau)), averaged over the batch; "
           "dot-product scores of N queries against K candidates",
    cost="mean(-sum(y[i, j]*log(softmax(z[i]/tau)[j]), j), i)",
    wrt="q", define=("z[i, j] = sum(q[i, d]*c[j, d], d)",), assume=ROWS, batch=True, scalars={"tau": 0.5},
    inputs={"q": ND, "c": Domain("real", ("K", "D")), "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(v["q"] @ v["c"].T / v["tau"], v["y"]) / len(v["q"]),
    textbook="Sum((o[i, j] - y[i, j])*c[j, e], (j, 1, K))/(tau*N)",
    numpy_gradient=lambda v: (_softmax_rows(v["q"] @ v["c"].T / v["tau"]) - v["y"]) @ v["c"] / (v["tau"] * len(v["q"]))))

add(CostRecord(
    id="word2vec_negative_sampling",
    source="Mikolov et al. 2013, Distributed Representations of Words and Phrases and their Compositionality "
           "(arXiv:1310.4546), eq. 4: log sigma(v'_wO . v_wI) + sum_i log sigma(-v'_wi . v_wI); the positive "
           "context y = 1 and the k negatives y = 0 over the scores z",
    cost="-sum(y[j]*log(sigmoid(z[j])) + (1 - y[j])*log(sigmoid(-z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")},
    numpy_cost=lambda v: (v["y"] * softplus(-v["z"]) + (1 - v["y"]) * softplus(v["z"])).sum(),
    textbook="s[k] - y[k]",
    numpy_gradient=lambda v: sigmoid(v["z"]) - v["y"]))

add(CostRecord(
    id="softplus_beta_regression",
    source="PyTorch Softplus(beta): Softplus(x) = 1/beta * log(1 + exp(beta * x)), a positive output, "
           + TORCH + "Softplus.html; with squared error 1/2 sum (f - y)^2",
    cost="0.5*sum((log(1 + exp(beta*z[j]))/beta - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("positive")}, scalars={"beta": 2.0},
    numpy_cost=lambda v: 0.5 * ((softplus(v["beta"] * v["z"]) / v["beta"] - v["y"]) ** 2).sum(),
    textbook="(log(1 + exp(beta*z[k]))/beta - y[k])*sigmoid(beta*z[k])",
    numpy_gradient=lambda v: (softplus(v["beta"] * v["z"]) / v["beta"] - v["y"]) * sigmoid(v["beta"] * v["z"])))

add(CostRecord(
    id="lecun_scaled_tanh_se",
    source="LeCun, Bottou, Orr, Mueller 1998, Efficient BackProp, 4.4: the sigmoid f(x) = 1.7159 tanh(2x/3); "
           "squared error 1/2 sum (f - t)^2",
    cost="0.5*sum((1.7159*tanh(2*z[j]/3) - y[j])**2, j)",
    wrt="z", inputs={"z": R, "y": Domain("pm1")},
    numpy_cost=lambda v: 0.5 * ((1.7159 * np.tanh(2 * v["z"] / 3) - v["y"]) ** 2).sum(),
    textbook="(1.7159*t[k] - y[k])*1.7159*(2/3)*(1 - t[k]**2)",
    numpy_gradient=lambda v: (lambda t: (1.7159 * t - v["y"]) * 1.7159 * 2 / 3 * (1 - t ** 2))(np.tanh(2 * v["z"] / 3))))

add(CostRecord(
    id="asymmetric_loss",
    source="Ridnik et al. 2021, Asymmetric Loss For Multi-Label Classification (ICCV 2021, arXiv:2009.14119): "
           "L+ = (1 - p)^gamma+ log(p), L- = p^gamma- log(1 - p) (no probability shifting, m = 0), "
           "https://timm.fast.ai/asymmetric_loss",
    cost="-sum(y[j]*(1 - sigmoid(z[j]))**gp*log(sigmoid(z[j])) + (1 - y[j])*sigmoid(z[j])**gn*log(1 - sigmoid(z[j])), j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")}, scalars={"gp": 1.0, "gn": 4.0},
    numpy_cost=lambda v: -(v["y"] * (1 - sigmoid(v["z"])) ** v["gp"] * np.log(sigmoid(v["z"]))
                           + (1 - v["y"]) * sigmoid(v["z"]) ** v["gn"] * np.log(1 - sigmoid(v["z"]))).sum(),
    textbook="y[k]*(1 - s[k])**gp*(gp*s[k]*log(s[k]) - 1 + s[k]) + (1 - y[k])*s[k]**gn*(s[k] - gn*(1 - s[k])*log(1 - s[k]))",
    numpy_gradient=lambda v: (lambda s, y, a, b: y * (1 - s) ** a * (a * s * np.log(s) - 1 + s)
                              + (1 - y) * s ** b * (s - b * (1 - s) * np.log(1 - s)))(
        sigmoid(v["z"]), v["y"], v["gp"], v["gn"])))


def _tversky_grad(s, y, a, b):
    T, D = (s * y).sum(), (s * y).sum() + a * (s * (1 - y)).sum() + b * ((1 - s) * y).sum()
    return -s * (1 - s) * (y * D - T * (y + a * (1 - y) - b * y)) / D ** 2


add(CostRecord(
    id="tversky_sigmoid",
    source="Salehi, Erdogmus, Gholipour 2017, Tversky loss function for image segmentation using 3D fully "
           "convolutional deep networks (arXiv:1706.05721): 1 - TP/(TP + alpha FP + beta FN); "
           "tf.keras.losses.tversky, https://tensorflow.google.cn/api_docs/python/tf/keras/losses/tversky",
    cost="1 - sum(sigmoid(z[j])*y[j], j)/(sum(sigmoid(z[j])*y[j], j) + alpha*sum(sigmoid(z[j])*(1 - y[j]), j)"
         " + beta*sum((1 - sigmoid(z[j]))*y[j], j))",
    wrt="z", inputs={"z": R, "y": Domain("binary")}, scalars={"alpha": 0.3, "beta": 0.7},
    numpy_cost=lambda v: (lambda s, y: 1 - (s * y).sum() / ((s * y).sum() + v["alpha"] * (s * (1 - y)).sum()
                                                             + v["beta"] * ((1 - s) * y).sum()))(sigmoid(v["z"]), v["y"]),
    textbook="-s[k]*(1 - s[k])*(y[k]*(Sum(s[j]*y[j], (j, 1, K)) + alpha*Sum(s[j]*(1 - y[j]), (j, 1, K))"
             " + beta*Sum((1 - s[j])*y[j], (j, 1, K))) - Sum(s[j]*y[j], (j, 1, K))*(y[k] + alpha*(1 - y[k])"
             " - beta*y[k]))/(Sum(s[j]*y[j], (j, 1, K)) + alpha*Sum(s[j]*(1 - y[j]), (j, 1, K))"
             " + beta*Sum((1 - s[j])*y[j], (j, 1, K)))**2",
    numpy_gradient=lambda v: _tversky_grad(sigmoid(v["z"]), v["y"], v["alpha"], v["beta"])))

add(CostRecord(
    id="ranknet_pairs",
    source="Burges et al. 2005, Learning to Rank using Gradient Descent (ICML 2005): P_ij = 1/(1 + exp(-gamma"
           " (s_i - s_j))), C = -Pbar_ij log P_ij - (1 - Pbar_ij) log(1 - P_ij), https://notesonai.com/ranknet;"
           " one pair per entry, scores a (first) and b (second)",
    cost="-sum(y[j]*log(sigmoid(g*(a[j] - b[j]))) + (1 - y[j])*log(1 - sigmoid(g*(a[j] - b[j]))), j)",
    wrt="a", inputs={"a": R, "b": R, "y": Domain("binary")}, scalars={"g": 1.5},
    numpy_cost=lambda v: (softplus(v["g"] * (v["a"] - v["b"])) - v["y"] * v["g"] * (v["a"] - v["b"])).sum(),
    textbook="g*(sigmoid(g*(a[k] - b[k])) - y[k])",
    numpy_gradient=lambda v: v["g"] * (sigmoid(v["g"] * (v["a"] - v["b"])) - v["y"])))

add(CostRecord(
    id="l2_multiclass_logreg",
    source="jaxopt.objective.l2_multiclass_logreg: 1/n sum_i l(W^T x_i, y_i) + 0.5 l2reg ||W||_2^2, "
           "https://jaxopt.github.io/stable/_autosummary/jaxopt.objective.l2_multiclass_logreg.html",
    cost="mean(-sum(y[i, j]*log(softmax(z[i])[j]), j), i) + 0.5*lam*sum(sum(w[j, d]**2, d), j)",
    wrt="w", define=("z[i, j] = sum(w[j, d]*x[i, d], d)",), assume=ROWS, batch=True, scalars={"lam": 0.3},
    inputs={"w": Domain("real", ("K", "D")), "x": ND, "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(v["x"] @ v["w"].T, v["y"]) / len(v["x"]) + 0.5 * v["lam"] * (v["w"] ** 2).sum(),
    textbook="Sum((o[i, k] - y[i, k])*x[i, e], (i, 1, N))/N + lam*w[k, e]",
    numpy_gradient=lambda v: (_softmax_rows(v["x"] @ v["w"].T) - v["y"]).T @ v["x"] / len(v["x"]) + v["lam"] * v["w"]))

add(CostRecord(
    id="jensen_shannon_softmax",
    source="nsl.lib.jensen_shannon_divergence (Neural Structured Learning): M = (P + Q)/2, JSD(P//Q) = "
           "KL(P//M)/2 + KL(Q//M)/2, P the labels, Q the predictions, "
           "https://www.tensorflow.org/neural_structured_learning/api_docs/python/nsl/lib/jensen_shannon_divergence",
    cost="0.5*sum(y[j]*log(y[j]/((y[j] + softmax(z)[j])/2)), j) + 0.5*sum(softmax(z)[j]*log(softmax(z)[j]/((y[j] + softmax(z)[j])/2)), j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX,
    numpy_cost=lambda v: (lambda o, y: 0.5 * (y * np.log(2 * y / (y + o))).sum() + 0.5 * (o * np.log(2 * o / (y + o))).sum())(
        softmax(v["z"]), v["y"]),
    textbook="o[k]*(log(2*o[k]/(y[k] + o[k]))/2 - Sum(o[j]*log(2*o[j]/(y[j] + o[j])), (j, 1, K))/2)",
    numpy_gradient=lambda v: _js_grad(softmax(v["z"]), v["y"])))

add(CostRecord(
    id="batch_mean_hidden_tanh_ce_w1",
    source="Bishop 2006, Pattern Recognition and Machine Learning, 5.3 (eq. 5.56, tanh hidden units: delta_j = "
           "(1 - z_j^2) sum_k w_kj delta_k, dE_n/dw_ji = delta_j x_i) averaged over the batch as PyTorch "
           "CrossEntropyLoss(reduction='mean') does, " + TORCH + "CrossEntropyLoss.html",
    cost="mean(-sum(y[i, j]*log(softmax(z[i])[j]), j), i)",
    wrt="w1", define=("h[i, a] = tanh(sum(w1[a, d]*x[i, d], d))", "z[i, j] = sum(w2[j, a]*h[i, a], a)"),
    assume=ROWS, batch=True,
    inputs={"w1": Domain("real", ("H", "D")), "w2": Domain("real", ("K", "H")), "x": ND,
            "y": Domain("onehot", ("N", "K"))},
    numpy_cost=lambda v: _ce_rows(np.tanh(v["x"] @ v["w1"].T) @ v["w2"].T, v["y"]) / len(v["x"]),
    textbook="Sum((1 - h[i, a]**2)*Sum((o[i, j] - y[i, j])*w2[j, a], (j, 1, K))*x[i, e], (i, 1, N))/N",
    numpy_gradient=lambda v: (lambda h: (((_softmax_rows(h @ v["w2"].T) - v["y"]) @ v["w2"]) * (1 - h * h)).T @ v["x"]
                              / len(v["x"]))(np.tanh(v["x"] @ v["w1"].T)),
    note="derive adds the matrix form [(1/N) (((O - Y) W2) o (1 - H o H))^T X]"))

# -- costs spelled with the softplus, log_sigmoid and tanh layers by name (issue 14.2) ---------------

add(CostRecord(
    id="mlcommons_bce_log_sigmoid",
    source="MLCommons algorithmic-efficiency, criteo1tb metrics.py per_example_sigmoid_binary_cross_entropy: "
           "log_p = LogSigmoid(logits), log_not_p = LogSigmoid(-logits), -(targets*log_p + (1 - targets)*log_not_p), "
           "https://github.com/mlcommons/algorithmic-efficiency (torch.nn.LogSigmoid: " + TORCH + "LogSigmoid.html)",
    cost="-sum(y[j]*log_sigmoid(z[j]) + (1 - y[j])*log_sigmoid(-z[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("unit")},
    numpy_cost=lambda v: -(v["y"] * -softplus(-v["z"]) + (1 - v["y"]) * -softplus(v["z"])).sum(),
    textbook="s[k] - y[k]",
    numpy_gradient=lambda v: sigmoid(v["z"]) - v["y"]))

add(CostRecord(
    id="stylegan2_nonsaturating_softplus",
    source="Karras et al. 2020, StyleGAN2-ADA training/loss.py: loss_Gmain = softplus(-gen_logits) "
           "(-log sigmoid(gen_logits)), https://github.com/NVlabs/stylegan2-ada-pytorch; torch.nn.Softplus: "
           + TORCH + "Softplus.html",
    cost="sum(softplus(-z[j]), j)",
    wrt="z", inputs={"z": R},
    numpy_cost=lambda v: softplus(-v["z"]).sum(),
    textbook="s[k] - 1",
    numpy_gradient=lambda v: sigmoid(v["z"]) - 1))

add(CostRecord(
    id="spinningup_sac_tanh_logprob",
    source="OpenAI Spinning Up, SAC (spinup/algos/pytorch/sac/core.py): the tanh squashing correction "
           "2*(log(2) - u - softplus(-2u)) = log(1 - tanh(u)^2), Haarnoja et al. 2018 (arXiv:1801.01290) eq. 21, "
           "https://github.com/openai/spinningup",
    cost="sum(2*(log(2) - z[j] - softplus(-2*z[j])), j)",
    wrt="z", inputs={"z": R},
    numpy_cost=lambda v: (2 * (np.log(2) - v["z"] - softplus(-2 * v["z"]))).sum(),
    textbook="-2*tanh(z[k])",
    numpy_gradient=lambda v: -2 * np.tanh(v["z"])))

add(CostRecord(
    id="sac_tanh_jacobian_eps",
    source="Haarnoja et al. 2018, Soft Actor-Critic (arXiv:1801.01290) appendix C eq. 21, "
           "log pi(a|s) = log mu(u|s) - sum_i log(1 - tanh(u_i)^2), with the eps of RLlib's SquashedGaussian "
           "(log(1 - a*a + SMALL_NUMBER)); torch.nn.Tanh: " + TORCH + "Tanh.html",
    cost="-sum(log(1 - tanh(z[j])**2 + eps), j)",
    wrt="z", inputs={"z": R}, scalars={"eps": 1e-6},
    numpy_cost=lambda v: -np.log(1 - np.tanh(v["z"]) ** 2 + v["eps"]).sum(),
    textbook="2*tanh(z[k])*(1 - tanh(z[k])**2)/(1 - tanh(z[k])**2 + eps)",
    numpy_gradient=lambda v: 2 * np.tanh(v["z"]) * (1 - np.tanh(v["z"]) ** 2) / (1 - np.tanh(v["z"]) ** 2 + v["eps"])))

# -- the third round (issue 14, item 4 re-audit): costs with no layer at all (spherical and Taylor softmax
# written out), a multi-positive contrastive target, Keras's log of a quotient, SciPy's generalised KL,
# a Taylor series of the cross-entropy, the sigmoid Poly-1, soft Jaccard and a cosine similarity --------

SPHERICAL = "de Brebisson & Vincent 2016, An Exploration of Softmax Alternatives Belonging to the Spherical " \
            "Loss Family (ICLR 2016, arXiv:1511.05042)"


def _spherical(z, eps):
    f = z ** 2 + eps
    return f / f.sum()


def _taylor(z):
    f = 1 + z + z ** 2 / 2
    return f / f.sum()


add(CostRecord(
    id="spherical_softmax_nll",
    source=SPHERICAL + ", section 3.1: the log-spherical softmax o_i = (z_i^2 + eps)/sum_j (z_j^2 + eps), "
           "loss -log o_c",
    cost="-sum(y[j]*log((z[j]**2 + eps)/sum(z[l]**2 + eps, l)), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX, scalars={"eps": 0.01},
    numpy_cost=lambda v: -(v["y"] * np.log(_spherical(v["z"], v["eps"]))).sum(),
    textbook="2*z[k]/Sum(z[j]**2 + eps, (j, 1, K)) - 2*y[k]*z[k]/(z[k]**2 + eps)",
    numpy_gradient=lambda v: 2 * v["z"] / (v["z"] ** 2 + v["eps"]).sum() - 2 * v["y"] * v["z"] / (v["z"] ** 2 + v["eps"]),
    note="no output layer: a rational function of z"))

add(CostRecord(
    id="taylor_softmax_nll",
    source=SPHERICAL + ", section 3.2: the log-Taylor softmax o_i = (1 + z_i + z_i^2/2)/sum_j (1 + z_j + z_j^2/2)",
    cost="-sum(y[j]*log((1 + z[j] + z[j]**2/2)/sum(1 + z[l] + z[l]**2/2, l)), j)",
    wrt="z", inputs={"z": R, "y": Domain("onehot")}, assume=SIMPLEX,
    numpy_cost=lambda v: -(v["y"] * np.log(_taylor(v["z"]))).sum(),
    textbook="(1 + z[k])*(1/Sum(1 + z[j] + z[j]**2/2, (j, 1, K)) - y[k]/(1 + z[k] + z[k]**2/2))",
    numpy_gradient=lambda v: (1 + v["z"]) * (1 / (1 + v["z"] + v["z"] ** 2 / 2).sum() - v["y"] / (1 + v["z"] + v["z"] ** 2 / 2)),
    note="no output layer: 1 + z + z^2/2 > 0 for every real z"))

add(CostRecord(
    id="supcon_multi_positive",
    source="Khosla et al. 2020, Supervised Contrastive Learning (NeurIPS 2020, arXiv:2004.11362), eq. 2: "
           "L_out = -1/|P(i)| sum_{p in P(i)} log(exp(z_i.z_p/tau)/sum_a exp(z_i.z_a/tau)); here the scores "
           "z_a = z_i.z_a and y the indicator of the positives P(i)",
    cost="-sum(y[j]*log(softmax(z/tau)[j]), j)/sum(y[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("multihot")}, scalars={"tau": 0.5},
    numpy_cost=lambda v: -(v["y"] * np.log(softmax(v["z"] / v["tau"]))).sum() / v["y"].sum(),
    textbook="(o[k] - y[k]/Sum(y[j], (j, 1, K)))/tau",
    numpy_gradient=lambda v: (softmax(v["z"] / v["tau"]) - v["y"] / v["y"].sum()) / v["tau"],
    note="y has at least one positive"))

add(CostRecord(
    id="keras_kld_quotient",
    source="tf.keras.losses.KLD: loss = y_true * log(y_true / y_pred), " + TF + "keras/losses/KLD; "
           "y_pred a softmax",
    cost="sum(y[j]*log(y[j]/softmax(z)[j]), j)",
    wrt="z", inputs={"z": R, "y": Domain("simplex")}, assume=SIMPLEX,
    numpy_cost=lambda v: (v["y"] * np.log(v["y"] / softmax(v["z"]))).sum(),
    textbook="o[k] - y[k]",
    numpy_gradient=lambda v: softmax(v["z"]) - v["y"]))

add(CostRecord(
    id="scipy_generalized_kl",
    source="scipy.special.kl_div: x log(x / y) - x + y (the convex-programming KL, Boyd & Vandenberghe 2004), "
           "https://docs.scipy.org/doc/scipy/reference/generated/scipy.special.kl_div.html; y a softmax and x "
           "unnormalised positive targets",
    cost="sum(y[j]*log(y[j]/softmax(z)[j]) - y[j] + softmax(z)[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("positive")},
    numpy_cost=lambda v: (lambda o, y: (y * np.log(y / o) - y + o).sum())(softmax(v["z"]), v["y"]),
    textbook="o[k]*Sum(y[j], (j, 1, K)) - y[k]",
    numpy_gradient=lambda v: softmax(v["z"]) * v["y"].sum() - v["y"],
    note="no sum y = 1: the targets are any positive vector"))

add(CostRecord(
    id="taylor_ce_order2",
    source="Feng et al. 2020, Can Cross Entropy Loss Be Robust to Label Noise? (IJCAI 2020): Taylor cross-entropy "
           "L_t = sum_{i=1}^t (1 - p_y)^i / i, here t = 2",
    cost="(1 - sum(y[j]*softmax(z)[j], j)) + (1 - sum(y[j]*softmax(z)[j], j))**2/2",
    wrt="z", inputs={"z": R, "y": Domain("onehot")},
    numpy_cost=lambda v: (lambda p: (1 - p) + (1 - p) ** 2 / 2)((v["y"] * softmax(v["z"])).sum()),
    textbook="-(2 - Sum(y[j]*o[j], (j, 1, K)))*o[k]*(y[k] - Sum(y[j]*o[j], (j, 1, K)))",
    numpy_gradient=lambda v: -(2 - (v["y"] * softmax(v["z"])).sum()) * _pt_grad(softmax(v["z"]), v["y"])))

add(CostRecord(
    id="poly1_sigmoid",
    source="Leng et al. 2022, PolyLoss (ICLR 2022, arXiv:2204.12511), section 5 (detection): Poly-1 with the sigmoid "
           "BCE, L = BCE + eps (1 - p_t), p_t = y sigma(x) + (1 - y)(1 - sigma(x))",
    cost="sum(-y[j]*log(sigmoid(z[j])) - (1 - y[j])*log(1 - sigmoid(z[j])) "
         "+ eps*(1 - y[j]*sigmoid(z[j]) - (1 - y[j])*(1 - sigmoid(z[j]))), j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")}, scalars={"eps": 1.0},
    numpy_cost=lambda v: (lambda s, y: (-y * np.log(s) - (1 - y) * np.log(1 - s) + v["eps"] * (1 - y * s - (1 - y) * (1 - s))).sum())(
        sigmoid(v["z"]), v["y"]),
    textbook="s[k] - y[k] - eps*(2*y[k] - 1)*s[k]*(1 - s[k])",
    numpy_gradient=lambda v: (lambda s, y: s - y - v["eps"] * (2 * y - 1) * s * (1 - s))(sigmoid(v["z"]), v["y"])))

add(CostRecord(
    id="soft_jaccard_sigmoid",
    source="Rahman & Wang 2016, Optimizing Intersection-Over-Union in Deep Neural Networks for Image Segmentation "
           "(ISVC 2016): L_IoU = 1 - I/U, I = sum_v X_v Y_v, U = sum_v (X_v + Y_v - X_v Y_v), X = sigmoid outputs",
    cost="1 - sum(sigmoid(z[j])*y[j], j)/sum(sigmoid(z[j]) + y[j] - sigmoid(z[j])*y[j], j)",
    wrt="z", inputs={"z": R, "y": Domain("binary")},
    numpy_cost=lambda v: (lambda s, y: 1 - (s * y).sum() / (s + y - s * y).sum())(sigmoid(v["z"]), v["y"]),
    textbook="-s[k]*(1 - s[k])*(y[k]*Sum(s[j] + y[j] - s[j]*y[j], (j, 1, K)) - (1 - y[k])*Sum(s[j]*y[j], (j, 1, K)))"
             "/Sum(s[j] + y[j] - s[j]*y[j], (j, 1, K))**2",
    numpy_gradient=lambda v: (lambda s, y: -s * (1 - s) * (y * (s + y - s * y).sum() - (1 - y) * (s * y).sum())
                              / (s + y - s * y).sum() ** 2)(sigmoid(v["z"]), v["y"])))

add(CostRecord(
    id="cosine_similarity_softmax",
    source="tf.keras.losses.CosineSimilarity: loss = -sum(l2_norm(y_true) * l2_norm(y_pred)), "
           + TF + "keras/losses/CosineSimilarity; y_pred a softmax",
    cost="-sum(y[j]*softmax(z)[j], j)/(sqrt(sum(y[j]**2, j))*sqrt(sum(softmax(z)[j]**2, j)))",
    wrt="z", inputs={"z": R, "y": Domain("unit")},
    numpy_cost=lambda v: (lambda o, y: -(y * o).sum() / (np.sqrt((y * y).sum()) * np.sqrt((o * o).sum())))(
        softmax(v["z"]), v["y"]),
    textbook="-o[k]*((y[k] - Sum(y[j]*o[j], (j, 1, K)))*Sum(o[j]**2, (j, 1, K)) - (o[k] - Sum(o[j]**2, (j, 1, K)))"
             "*Sum(y[j]*o[j], (j, 1, K)))/(sqrt(Sum(y[j]**2, (j, 1, K)))*Sum(o[j]**2, (j, 1, K))**(3/2))",
    numpy_gradient=lambda v: (lambda o, y: (lambda A, B, Y: -o * ((y - A) * B - (o - B) * A) / (Y * B ** 1.5))(
        (y * o).sum(), (o * o).sum(), np.sqrt((y * y).sum())))(softmax(v["z"]), v["y"])))

BY_ID = {r.id: r for r in COSTS}
assert len(BY_ID) == len(COSTS), "duplicate ids"

# Where a textbook form names things as its source does and derive names them otherwise: textbook name ->
# derive's name (q = softmax(z/T) is derive's o; Bishop's hidden index a and input index e are derive's free
# indices e and f). Used by textbook_in() to evaluate the textbook form in derive's own setting.
_STUDENT = {"q": "o"}
TEXTBOOK_NAMES: Dict[str, Dict[str, str]] = {
    "kd_hinton": _STUDENT, "ldam": _STUDENT, "am_softmax": _STUDENT, "logit_adjusted": _STUDENT,
    "energy_score": _STUDENT, "temperature_scaling_T": _STUDENT,
    "kd_combined": {"q": "p", "p": "q"},   # derive: p = softmax(z/T) (the student), q = softmax(v/T)
    "infonce_batch_queries": {"i": "t"},
}


def _index_letters(textbook: str, derived: str) -> Dict[str, str]:
    """derive's letter for each index the textbook names otherwise, read off the same array at the same
    position (x[e] in the textbook, x[f] in derive's result: e -> f), so that a textbook does not depend on
    which free letters the planner picks."""
    pattern = re.compile(r"\b([A-Za-z_]\w*)\[([^\]]+)\]")
    ours: Dict[str, List[str]] = {}
    used = set()
    for base, idx in pattern.findall(derived):
        ours.setdefault(base, [x.strip() for x in idx.split(",")])
        used |= {x.strip() for x in idx.split(",")}
    out: Dict[str, str] = {}
    for base, idx in pattern.findall(textbook):
        theirs = [x.strip() for x in idx.split(",")]
        mine = ours.get(base)
        if mine is None or len(mine) != len(theirs):
            continue
        for t, m in zip(theirs, mine):
            if t != m and t not in used and t not in out and m not in out.values():
                out[t] = m
    return out


def textbook_in(rec: CostRecord, d, counted: bool = False) -> "object":
    """rec.textbook as a SymPy expression in derivation d's own symbols (its layers, indices and sizes), so
    that it can stand in d's last step and be compiled with d's definitions; sigmoid(x) is 1/(1 + exp(-x)),
    or with ``counted`` the one-operation function that textbook_ops counts."""
    import sympy as sp
    own: dict = {}
    exprs = [s.expr for s in d.steps] + [x.expr for x in d.setting.definitions]
    for e in exprs:
        for a in sp.preorder_traversal(e):
            if isinstance(a, sp.Indexed):
                own.setdefault(str(a.base), a.base)
            elif isinstance(a, (sp.Symbol, sp.IndexedBase)):
                own.setdefault(str(a), a)
    index_form = d.steps[-2] if len(d.steps) > 1 and d.steps[-1].rule.value == "matrix_form" else d.steps[-1]
    renamed = {**_index_letters(rec.textbook, str(index_form.expr)), **TEXTBOOK_NAMES.get(rec.id, {})}
    text = rec.textbook
    local: dict = {}
    for n in set(re.findall(r"\b([A-Za-z_]\w*)\b", text)) - {"Sum", "log", "exp", "sqrt", "tanh", "sigmoid"}:
        name = renamed.get(n, n)
        if name in own:
            local[n] = own[name]
        elif re.search(r"\b" + n + r"\s*\[", text):
            local[n] = sp.IndexedBase(name)
        else:
            local[n] = sp.Symbol(name, integer=True, positive=True) if n in ("j", "l", "i") else sp.Symbol(name, real=True)
    sigmoid = sp.Function("sigmoid")
    local.update({"Sum": sp.Sum, "log": sp.log, "exp": sp.exp, "sqrt": sp.sqrt, "tanh": sp.tanh, "sigmoid": sigmoid})
    book = sp.sympify(text, locals=local)
    return book if counted else book.replace(sigmoid, lambda x: 1 / (1 + sp.exp(-x)))

# What derive cannot do today, with the reason (measured by bench/bench_costs.py); the derive tests of
# these records are xfail(strict=False), so they become real checks as the gaps close.
KNOWN_GAPS: Dict[str, str] = {}
