"""The matrix form: an index expression rewritten as the entry of a matrix expression."""
from __future__ import annotations

from typing import TYPE_CHECKING, Optional

import sympy as sp

from ..expr import Entry
from ..model import Rule, Step
from .registry import rule
from .sums import kronecker_delta


class _Untranslatable(Exception):
    pass

if TYPE_CHECKING:  # pragma: no cover
    from . import Context


@rule(Rule.MATRIX_FORM)
def matrix_form(expr: sp.Expr, ctx: "Context", rows: sp.Symbol, cols: Optional[sp.Symbol] = None,
                vector: Optional[sp.IndexedBase] = None) -> Optional[Step]:
    """f_i g_j + delta_ij h_i + sum_k M_ki v_k + sum_n A_ni B_nj ... -> [f g^T + diag(h) + M^T v + A^T B ...]_ij; vector=g: an expression linear in g, sum_j M_kj g_j -> [M g]_k."""
    if vector is not None:
        return _times_vector(expr, ctx, rows, vector)
    setting = ctx.setting
    if not expr.has(rows) or (cols is not None and not expr.has(cols)) or isinstance(expr, Entry):
        return None
    vectors: dict = {}

    def size(index):
        lower, upper = setting.range_of(index)
        if lower != 1:
            raise _Untranslatable(f"index {index} does not start at 1")
        return upper

    def matrix_symbol(base, dims):
        m = sp.MatrixSymbol(str(base), *dims)
        vectors[m] = base
        return m

    def column(factor, rows=rows):
        """A factor carrying only the index ``rows``, as a column vector."""
        if isinstance(factor, sp.Indexed) and factor.indices == (rows,):
            return matrix_symbol(factor.base, (size(rows), 1))
        if isinstance(factor, sp.Sum) and len(factor.limits) == 1:  # sum_k M_kr g_k: M^T g, g any vector in k
            k = factor.limits[0][0]
            parts = sp.Mul.make_args(factor.function)
            mats = [f for f in parts if isinstance(f, sp.Indexed) and set(f.indices) == {k, rows}
                    and len(f.indices) == 2]
            rest = [f for f in parts if f not in mats]
            if len(mats) == 1 and rest and not any(f.has(rows) for f in rest):
                M = mats[0]
                vec = hadamard_term(sp.Mul(*rest), k)
                if M.indices == (k, rows):
                    return matrix_symbol(M.base, (size(k), size(rows))).T * vec
                return matrix_symbol(M.base, (size(rows), size(k))) * vec
        if isinstance(factor, sp.Sum) and len(factor.limits) == 1:  # sum_j u_j v_j: the inner product u^T v
            k = factor.limits[0][0]
            vecs = sp.Mul.make_args(factor.function)
            if len(vecs) == 2 and all(isinstance(f, sp.Indexed) and f.indices == (k,) for f in vecs):
                kernels = {d.symbol for d in setting.definitions if d.is_kernel}
                vecs = sorted(vecs, key=lambda f: f.base not in kernels)  # the layer's output first: o^T g
                u, v = (matrix_symbol(f.base, (size(k), 1)) for f in vecs)
                return sp.MatMul(sp.OneMatrix(size(rows), 1), u.T, v)
        if isinstance(factor, sp.Add):
            return sp.MatAdd(*[hadamard_term(t, rows) for t in factor.args])
        if isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp > 0:
            return sp.HadamardPower(column(factor.base, rows), factor.exp)
        raise _Untranslatable(f"cannot write {factor} as a vector")

    def hadamard_term(term, rows=rows):
        coeff, factors = _split(term, rows)
        inner = [f for f in sp.Mul.make_args(coeff) if isinstance(f, sp.Sum)]  # sum_j g_j o_j: g^T o
        if inner:
            coeff = sp.Mul(*[f for f in sp.Mul.make_args(coeff) if not isinstance(f, sp.Sum)])
            factors = factors + inner
        if not factors:
            return coeff * sp.OneMatrix(size(rows), 1)
        vecs = [column(f, rows) for f in factors]
        return coeff * (vecs[0] if len(vecs) == 1 else sp.HadamardProduct(*vecs))

    def outer_term(term):
        coeff, factors = _split(term, rows, cols)
        delta = [f for f in factors if f == sp.KroneckerDelta(rows, cols)]
        rest = [f for f in factors if f not in delta]
        by_row = [f for f in rest if f.has(rows) and not f.has(cols)]
        by_col = [f for f in rest if f.has(cols) and not f.has(rows)]
        both = [f for f in rest if f.has(rows) and f.has(cols)]
        if both:
            if len(both) == 1 and not by_row and not by_col:
                return coeff * as_matrix(both[0], rows, cols)
            raise _Untranslatable(f"cannot write {term} as a matrix")
        if delta:
            if by_col:
                raise _Untranslatable(f"cannot write {term} as a matrix")
            inner = sp.Mul(*by_row)
            if inner == 1:
                return coeff * sp.Identity(size(rows))
            return coeff * sp.DiagMatrix(hadamard_term(inner))
        left = hadamard_term(sp.Mul(*by_row)) if by_row else sp.OneMatrix(size(rows), 1)
        right = hadamard_term(sp.Mul(*by_col), cols) if by_col else sp.OneMatrix(size(cols), 1)
        return coeff * left * right.T

    def as_matrix(factor, r, c):
        """A factor carrying the indices r and c, as a matrix with rows r and columns c: M_rc, M_cr^T, a
        sum of such (a constant is the matrix of ones times it), an entrywise product or power of such
        (A o B, A o A), or sum_s A_rs B_sc = [A B]_rc (the product over a summed axis: the classes, or
        the examples of a batch, sum_i A_ir B_ic = [A^T B]_rc)."""
        if isinstance(factor, sp.Indexed) and set(factor.indices) == {r, c} and len(factor.indices) == 2:
            if factor.indices == (r, c):
                return matrix_symbol(factor.base, (size(r), size(c)))
            return matrix_symbol(factor.base, (size(c), size(r))).T
        if isinstance(factor, sp.Add):
            return sp.MatAdd(*[scaled(t, r, c) for t in factor.args])
        if isinstance(factor, sp.Mul):
            coeff, parts = _split(factor, r, c)
            if len(parts) > 1 and all(p.has(r) and p.has(c) for p in parts):
                return coeff * sp.HadamardProduct(*[as_matrix(p, r, c) for p in parts])
        if isinstance(factor, sp.Pow) and factor.exp.is_Integer and factor.exp > 0:
            return sp.HadamardPower(as_matrix(factor.base, r, c), factor.exp)
        if isinstance(factor, sp.Sum) and len(factor.limits) == 1:
            i = factor.limits[0][0]
            coeff, parts = _split(factor.function, r, c, i)
            left = [f for f in parts if f.has(r) and not f.has(c)]
            right = [f for f in parts if f.has(c) and not f.has(r)]
            if (not left or not right or len(left) + len(right) != len(parts)
                    or not any(f.has(i) for f in left) or not any(f.has(i) for f in right)):
                raise _Untranslatable(f"cannot write {factor} as a matrix product")
            return coeff * oriented(sp.Mul(*left), r, i) * oriented(sp.Mul(*right), i, c)
        raise _Untranslatable(f"cannot write {factor} as a matrix")

    def oriented(factor, r, c):
        """as_matrix(factor, r, c), built the way the factor's entries are written and transposed as a whole
        where they are written the other way round: (O - Y)^T X as its source writes it, not O^T X - Y^T X."""
        entries = [a for a in sp.preorder_traversal(factor) if isinstance(a, sp.Indexed) and {r, c} <= set(a.indices)]
        if not entries or entries[0].indices.index(r) < entries[0].indices.index(c):
            return as_matrix(factor, r, c)
        a = as_matrix(factor, c, r)
        if isinstance(a, sp.MatrixSymbol):
            return a.T
        placeholder = sp.MatrixSymbol(f"_transposed{len(kept)}", a.shape[1], a.shape[0])
        kept[placeholder] = sp.Transpose(a)
        return placeholder

    def scaled(term, r, c):
        coeff, parts = _split(term, r, c)
        if not parts:  # a constant: the matrix of ones times it (1 - H o H)
            return coeff * sp.OneMatrix(size(r), size(c))
        return coeff * as_matrix(sp.Mul(*parts), r, c)

    kept: dict = {}  # placeholder -> a transposed sum the canonical form would multiply out

    term_form = hadamard_term if cols is None else outer_term
    matrix = None
    for form in (expr, sp.expand(expr)):  # as written first, multiplied out if need be
        try:
            matrix = _signs_inside(sp.MatAdd(*[term_form(t) for t in sp.Add.make_args(form)]).doit(), kept)
            matrix = matrix.xreplace(kept)
            break
        except _Untranslatable:
            vectors.clear()
    if matrix is None:
        return None
    indices = (rows,) if cols is None else (rows, cols)
    new = Entry(matrix, indices, tuple(vectors.items()))
    return Step(new, Rule.MATRIX_FORM, "write the index form as a matrix expression")


def _signs_inside(matrix, kept: dict):
    """-c (Y - O)^T X -> c (O - Y)^T X: a negative coefficient in front of a transposed sum goes into it."""

    def flips(node) -> bool:
        if not isinstance(node, sp.MatMul):
            return False
        coeff, mats = node.as_coeff_matrices()
        return bool(coeff.could_extract_minus_sign() and mats and mats[0] in kept
                    and isinstance(kept[mats[0]].arg, sp.MatAdd))

    def flip(node):
        coeff, mats = node.as_coeff_matrices()
        kept[mats[0]] = sp.Transpose(sp.MatAdd(*[-t for t in kept[mats[0]].arg.args]).doit())
        return sp.MatMul(-coeff, *mats)

    return matrix.replace(flips, flip)


def _split(term, *indices):
    coeff, rest = term.as_independent(*indices, as_Add=False)
    return coeff, list(sp.Mul.make_args(rest)) if rest != 1 else []




def _times_vector(expr: sp.Expr, ctx: "Context", rows: sp.Symbol, vector: sp.IndexedBase) -> Optional[Step]:
    """[M g]_k for an index form linear in the entries of g: M_kc is the coefficient of g_c (the derivative
    of the form with respect to g_c, its Kronecker deltas picked), written as a matrix by matrix_form, so that
    o_k (g_k - sum_j o_j g_j) is [(diag(o) - o o^T) g]_k, the Jacobian times the vector."""
    setting = ctx.setting
    if not any(isinstance(a, sp.Indexed) and a.base == vector for a in expr.atoms(sp.Indexed)):
        return None
    used = expr.atoms(sp.Symbol)
    free = [i for i, bounds in setting.ranges if bounds == setting.range_of(rows) and i not in used]
    if not free:
        return None
    c = free[0]
    entries = {a: sp.Integer(0) for a in expr.atoms(sp.Indexed) if a.base == vector}
    if expr.xreplace(entries).doit() != 0:
        return None  # a term without g: no matrix times g alone
    coefficient = sp.diff(expr, vector[c])
    if sp.diff(coefficient, vector[c]).doit() != 0 or coefficient.has(vector):
        return None  # not linear in g
    picked = kronecker_delta(coefficient, ctx)
    coefficient = picked.expr if picked is not None else coefficient
    step = matrix_form(coefficient, ctx, rows=rows, cols=c)
    if step is None or not isinstance(step.expr, Entry):
        return None
    lower, upper = setting.range_of(rows)
    g = sp.MatrixSymbol(str(vector), upper, 1)
    vectors = tuple(step.expr.vectors) + ((g, vector),)
    return Step(Entry(sp.MatMul(step.expr.matrix, g), (rows,), vectors), Rule.MATRIX_FORM,
                "write the index form as a matrix times a vector")


@rule(Rule.MATRIX_FORM)
def entrywise_form(expr: sp.Expr, ctx: "Context") -> Optional[Step]:
    """[(diag(u) - u u^T) g]_k -> [u o (g - (u^T g) 1)]_k: the product computed without forming the matrix."""
    if not isinstance(expr, Entry) or len(expr.indices) != 1 or not isinstance(expr.matrix, sp.MatMul):
        return None
    factors = expr.matrix.args
    if len(factors) != 2 or not isinstance(factors[0], sp.MatAdd):
        return None
    jacobian, g = factors
    diag = [t for t in jacobian.args if isinstance(t, sp.DiagMatrix)]
    if len(diag) != 1 or len(jacobian.args) != 2:
        return None
    u = diag[0].args[0]
    outer = next(t for t in jacobian.args if t is not diag[0])
    if outer != -u * u.T and outer != sp.MatMul(-1, u, u.T):
        return None
    ones = sp.OneMatrix(u.shape[0], 1)
    new = sp.HadamardProduct(u, sp.MatAdd(g, sp.MatMul(-1, ones, u.T, g)))
    return Step(Entry(new, expr.indices, expr.vectors), Rule.MATRIX_FORM,
                "compute the product without forming the matrix")
