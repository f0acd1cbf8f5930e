"""Matrix products (matmul, the fused linear layer, einsum) and norms (vector norms,
singular values)."""

from __future__ import annotations

import numpy as np

from gradwork._arrays import xp_of
from gradwork.autograd import Function, ShapeError


def _check_inner(name, a, b):
    if a.ndim == 0 or b.ndim == 0:
        raise ShapeError(
            f"{name}: both operands need at least 1 dimension, got {a.shape} and {b.shape}"
        )
    inner_b = b.shape[0] if b.ndim == 1 else b.shape[-2]
    if a.shape[-1] != inner_b:
        raise ShapeError(
            f"{name}: {a.shape} @ {b.shape}: inner sizes {a.shape[-1]} and {inner_b} differ"
        )


class MatMul(Function):
    """a @ b with NumPy's broadcasting of batch dimensions and 1-D operands. A true primitive."""

    @staticmethod
    def forward(ctx, a, b):
        _check_inner("matmul", a, b)
        # NOTE: each gradient needs only the OTHER operand, so only that one is
        # saved (as torch does): an in-place change to the other stays legal.
        need_a, need_b = ctx.needs_input_grad
        ctx.save_for_backward(a if need_b else None, b if need_a else None)
        ctx.ndims = (a.ndim, b.ndim)
        return a @ b

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved
        a_ndim, b_ndim = ctx.ndims
        need_a, need_b = ctx.needs_input_grad
        if a_ndim == 1 and b_ndim == 1:  # a dot product: grad is a scalar
            return (grad * b if need_a else None), (grad * a if need_b else None)
        # Treat vectors as matrices (a row for a, a column for b), as matmul does.
        g2 = grad
        if a_ndim == 1:
            g2 = np.expand_dims(g2, -2)
        if b_ndim == 1:
            g2 = np.expand_dims(g2, -1)
        grad_a = grad_b = None
        if need_a:
            b2 = b[:, None] if b_ndim == 1 else b
            grad_a = g2 @ np.swapaxes(b2, -1, -2)
            grad_a = grad_a[..., 0, :] if a_ndim == 1 else grad_a
        if need_b:
            a2 = a[None, :] if a_ndim == 1 else a
            grad_b = np.swapaxes(a2, -1, -2) @ g2
            grad_b = grad_b[..., :, 0] if b_ndim == 1 else grad_b
        # Batch dimensions that broadcasting added are summed by the engine.
        return grad_a, grad_b


class Linear(Function):
    """y = x @ weight.T + bias in one node: fused for speed (one GEMM each way).

    `x` has any number of leading dimensions; `weight` is (out, in) as in torch.
    """

    @staticmethod
    def forward(ctx, x, weight, bias=None):
        if x.shape[-1] != weight.shape[1]:
            raise ShapeError(
                f"linear: input has {x.shape[-1]} features (shape {x.shape}) but the "
                f"weight expects {weight.shape[1]} (weight shape {weight.shape})"
            )
        ctx.save_for_backward(x, weight)
        ctx.has_bias = bias is not None
        out = _product(x, weight.T)
        if bias is not None:
            out += bias  # in place: `out` is new, so no copy and no extra pass
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved
        need_x, need_w = ctx.needs_input_grad[:2]
        flat_grad = grad.reshape(-1, grad.shape[-1])
        grad_x = _product(grad, weight) if need_x else None
        grad_w = flat_grad.T @ x.reshape(-1, x.shape[-1]) if need_w else None
        grad_b = None
        if ctx.has_bias and ctx.needs_input_grad[2]:
            grad_b = flat_grad.sum(axis=0)
        return grad_x, grad_w, grad_b


def _product(x, matrix):
    """x @ matrix for x with any leading dimensions, as one 2-D GEMM (not a batched loop)."""
    flat = x.reshape(-1, x.shape[-1]) @ matrix
    return flat.reshape(*x.shape[:-1], matrix.shape[-1])


class Einsum(Function):
    """np.einsum on an explicit equation ('ij,jk->ik'): one node for any contraction.

    A primitive for speed: NumPy picks the contraction order (and BLAS) for the
    whole expression, where a composite would chain permute/reshape/matmul
    nodes. The caller (`gradwork.einsum`) hands over an equation with '->',
    without '...', whose letters each have one size (it expands ellipses and
    broadcasts sizes of 1 first).

    The gradient of each operand is itself an einsum: the output gradient
    contracted with the other operands onto that operand's letters.
    """

    @staticmethod
    def forward(ctx, *arrays, equation):
        inputs, output = equation.split("->")
        ctx.terms, ctx.output = inputs.split(","), output
        ctx.sizes = {
            letter: n
            for term, a in zip(ctx.terms, arrays, strict=False)
            for letter, n in zip(term, a.shape, strict=False)
        }
        ctx.save_for_backward(*arrays)
        return np.einsum(equation, *arrays, optimize=len(arrays) > 2)

    @staticmethod
    def backward(ctx, grad):
        arrays = ctx.saved
        grads = []
        for k, needed in enumerate(ctx.needs_input_grad):
            grads.append(_einsum_grad(ctx, grad, arrays, k) if needed else None)
        return tuple(grads)


def _einsum_grad(ctx, grad, arrays, k):
    """d out / d operand k: contract the gradient with the other operands."""
    term = ctx.terms[k]
    others = [t for i, t in enumerate(ctx.terms) if i != k]
    other_arrays = [a for i, a in enumerate(arrays) if i != k]
    reachable = set(ctx.output).union(*others)
    unique = "".join(dict.fromkeys(term))
    kept = "".join(letter for letter in unique if letter in reachable)
    equation = ",".join([ctx.output, *others]) + "->" + kept
    g = np.einsum(equation, grad, *other_arrays, optimize=len(other_arrays) > 1)
    # NOTE: a letter only this operand has ('ij->i' sums j) gets the gradient
    # unchanged along it: broadcast over that letter.
    shape = [ctx.sizes[letter] if letter in kept else 1 for letter in unique]
    g = np.broadcast_to(g.reshape(shape), [ctx.sizes[letter] for letter in unique])
    if len(unique) == len(term):
        return g
    # NOTE: a repeated letter ('ii->i') reads a diagonal: the gradient lives on
    # that diagonal and is 0 elsewhere. Each repeat gets a fresh letter tied to
    # the first by an identity matrix.
    free = iter(sorted(set(_LETTERS) - set(ctx.sizes)))
    spread, deltas, seen = "", [], set()
    for letter in term:
        if letter in seen:
            fresh = next(free)
            identity = xp_of(grad).eye(ctx.sizes[letter], dtype=grad.dtype)  # on grad's device
            deltas.append((letter + fresh, identity))
            letter = fresh
        seen.add(letter)
        spread += letter
    equation = ",".join([unique, *(s for s, _ in deltas)]) + "->" + spread
    return np.einsum(equation, g, *(d for _, d in deltas))


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


class VectorNorm(Function):
    """(sum |x|^p)^(1/p) over `dim`, with max/min |x| for p = +-inf and the count of
    non-zeros for p = 0.

    A primitive for stability: its backward is torch's subgradient where a
    composite's is nan: 0 at a zero norm (p >= 1) and at zero entries (p < 1).
    """

    @staticmethod
    def forward(ctx, x, ord=2.0, dim=None, keepdim=False):  # noqa: A002 - torch's name
        axes = tuple(range(x.ndim)) if dim is None else dim
        if ord == np.inf or ord == -np.inf:
            find = np.amax if ord > 0 else np.amin
            norm = find(np.abs(x), axis=axes, keepdims=True)
        elif ord == 0:
            norm = np.sum(x != 0, axis=axes, keepdims=True).astype(x.dtype)
        elif _one_element(x, dim, axes):
            # NOTE: torch returns |x| when one element is reduced, where the sum of
            # powers (in x's dtype, as torch) would underflow or overflow.
            norm = np.abs(x).reshape([1 if a in axes else n for a, n in enumerate(x.shape)])
        elif ord == 2:
            norm = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        else:
            norm = np.sum(np.abs(x) ** ord, axis=axes, keepdims=True) ** (1.0 / ord)
        ctx.save_for_backward(x, norm)
        ctx.ord, ctx.axes = ord, axes
        return norm if keepdim else np.squeeze(norm, axis=axes)

    @staticmethod
    def backward(ctx, grad):
        x, norm = ctx.saved
        p = ctx.ord
        grad = grad.reshape(norm.shape)
        if p == 0:
            return np.zeros_like(x)
        if p == 1:
            return np.sign(x) * grad
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            if p == np.inf or p == -np.inf:
                # NOTE: ties share the gradient equally, as torch's amax does.
                peak = (np.abs(x) == norm) | np.isnan(x)
                ties = np.sum(peak, axis=ctx.axes, keepdims=True, dtype=x.dtype)
                return np.sign(x) * peak * (grad / ties)
            if p < 1:
                slope = np.where(x == 0, 0, np.sign(x) * np.abs(x) ** (p - 1))
                return slope * grad * norm ** (1 - p)
            slope = x if p == 2 else np.sign(x) * np.abs(x) ** (p - 1)
            scale = np.where(norm == 0, 0, grad / norm ** (p - 1))
        return slope * scale


def _one_element(x, dim, axes):
    """Whether each norm is of one element (not for a 0-dim x with a dim, as in torch)."""
    count = 1
    for a in axes:
        count *= x.shape[a]
    return count == 1 and (x.ndim > 0 or dim is None)


class SingularValues(Function):
    """The singular values of a batch of matrices, largest first (torch.linalg.svdvals).

    A primitive: NumPy's SVD has no gradient of its own. With U S Vh = A,
    dS_i/dA = u_i v_i^T, so the gradient is U diag(grad) Vh.
    """

    @staticmethod
    def forward(ctx, a):
        u, s, vh = np.linalg.svd(a, full_matrices=False)
        ctx.save_for_backward(u, vh)
        return s

    @staticmethod
    def backward(ctx, grad):
        u, vh = ctx.saved
        return (u * grad[..., None, :]) @ vh


# ---------------------------------------------------------------------------
# einsum's equation, made explicit for the primitive: torch's checks and errors
# ---------------------------------------------------------------------------
def _einsum_error(message: str) -> RuntimeError:
    return RuntimeError(f"einsum(): {message}")


def _parse_terms(equation: str, count: int) -> tuple[list[str], str | None]:
    """The input terms and the output (None when implicit), checked against `count`."""
    equation = equation.replace(" ", "")
    for i, char in enumerate(equation.replace("->", "  ")):
        if not (char in _LETTERS or char in ". ,"):
            raise _einsum_error(
                f"invalid subscript given at index {i} in the equation string, subscripts "
                "must be in [a-zA-Z]"
            )
    left, arrow, output = equation.partition("->")
    terms = left.split(",")
    if len(terms) != count:
        fewer = "fewer" if count < len(terms) else "more"
        raise _einsum_error(f"{fewer} operands were provided than specified in the equation")
    return terms, (output if arrow else None)


def _spell_out(term: str, ndim: int, index: int, ellipsis: str) -> str:
    """`term` with '...' replaced by the last letters of `ellipsis`, one per dim it covers."""
    if "..." in term:
        named = len(term) - 3
        if named > ndim:
            raise _einsum_error(
                f"the number of subscripts in the equation ({named}) is more than the number "
                f"of dimensions ({ndim}) for operand {index}"
            )
        covered = ellipsis[len(ellipsis) - (ndim - named) :]
        return term.replace("...", covered)
    if len(term) != ndim:
        raise _einsum_error(
            f"the number of subscripts in the equation ({len(term)}) does not match the number "
            f"of dimensions ({ndim}) for operand {index} and no ellipsis was given"
        )
    return term


def _letter_sizes(terms: list[str], shapes: list[tuple]) -> dict[str, int]:
    """One size a letter: repeats in one operand must agree, operands may broadcast 1s."""
    sizes = {}
    for index, (term, shape) in enumerate(zip(terms, shapes, strict=False)):
        own = {}
        for letter, n in zip(term, shape, strict=False):
            if own.setdefault(letter, n) != n:
                raise _einsum_error(
                    f"subscript {letter} is repeated for operand {index} but the sizes don't "
                    f"match, {n} != {own[letter]}"
                )
            if sizes.get(letter, 1) not in (1, n) and n != 1:
                raise _einsum_error(
                    f"operands do not broadcast: subscript {letter} has sizes "
                    f"{sizes[letter]} and {n} (operand {index}, shape {tuple(shape)})"
                )
            if sizes.get(letter, 1) == 1:
                sizes[letter] = n
    return sizes


def explicit_equation(equation: str, shapes: list[tuple]) -> tuple[str, list[tuple], dict]:
    """torch's einsum equation as Einsum takes it.

    Returns the equation with '->' and no '...', the shape each operand
    broadcasts to, and the size of each letter summed away.

    Example:
        >>> explicit_equation("...ij,jk", [(5, 2, 3), (3, 4)])
        ('Zij,jk->Zik', [(5, 2, 3), (3, 4)], {'j': 3})
    """
    terms, output = _parse_terms(equation, len(shapes))
    unused = [c for c in reversed(_LETTERS) if c not in equation]
    widest = max([len(shape) - len(term) + 3 for term, shape in zip(terms, shapes, strict=False)
                  if "..." in term] or [0])  # fmt: skip
    ellipsis = "".join(reversed(unused[:widest]))
    terms = [
        _spell_out(t, len(s), i, ellipsis)
        for i, (t, s) in enumerate(zip(terms, shapes, strict=False))
    ]
    if output is None:  # implicit: the ellipsis, then the letters used once, sorted
        counts = "".join(terms)
        output = ellipsis + "".join(
            sorted(c for c in set(counts) if counts.count(c) == 1 and c not in ellipsis)
        )
    else:
        output = output.replace("...", ellipsis)
    for letter in output:
        if output.count(letter) > 1:
            raise _einsum_error(f"output subscript {letter} appears more than once in the output")
        if not any(letter in term for term in terms):
            raise _einsum_error(
                f"output subscript {letter} does not appear in the equation for any input operand"
            )
    sizes = _letter_sizes(terms, shapes)
    targets = [tuple(sizes[letter] for letter in term) for term in terms]
    summed = {letter: sizes[letter] for letter in sizes if letter not in output}
    return ",".join(terms) + "->" + output, targets, summed
