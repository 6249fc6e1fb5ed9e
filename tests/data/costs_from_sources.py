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

DIMS = {"K": 4, "D": 3, "H": 5}   # classes, input features, hidden units


@dataclasses.dataclass(frozen=True)
class Domain:
    kind: str                 # real | simplex | onehot | binary | unit | pm1 | positive | count | logprob
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
    """Inputs for N examples: (batch dict for derive's compiled function, list of N per-example dicts)."""
    batch, rows = {}, [dict(rec.scalars) for _ in range(N)]
    for name, dom in rec.inputs.items():
        shape = tuple(DIMS[s] for s in dom.shape)
        n = 1 if name in rec.shared else N
        arr = np.stack([_draw(dom.kind, shape, rng) for _ in range(n)])
        batch[name] = arr[0] if name in rec.shared else arr
        for i in range(N):
            rows[i][name] = arr[0] if name in rec.shared else arr[i]
    batch.update(rec.scalars)
    return batch, rows


def _draw(kind, shape, rng):
    K = shape[-1] if shape else 1
    if kind == "real":
        return rng.normal(size=shape) * 1.5
    if kind == "simplex":
        return rng.dirichlet(np.ones(K) * 2.0)
    if kind == "onehot":
        return np.eye(K)[rng.integers(K)]
    if kind == "binary":
        return rng.integers(0, 2, size=shape).astype(float)
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

BY_ID = {r.id: r for r in COSTS}
assert len(BY_ID) == len(COSTS), "duplicate ids"

# What derive cannot do today, with the reason (measured by bench/bench_costs.py); the derive tests of
# these records are xfail(strict=False), so they become real checks as the gaps close.
KNOWN_GAPS: Dict[str, str] = {}
