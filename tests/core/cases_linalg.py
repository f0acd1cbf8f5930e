"""Table entries of linear algebra and statistics: mm, bmm, dot, outer, einsum, norms,
std_mean/var_mean (float64 gradcheck and torch parity, see test_ops.py)."""

from __future__ import annotations

import gradwork as gw
from gradwork import ops
from tests.core.case import Case

INF = float("inf")


def _torch():
    import torch

    return torch


def _same(name: str, primitive: type, call, shapes: tuple, low: float | None = None) -> Case:
    """A case whose call reads the same in gradwork and torch: call(lib, *tensors)."""
    return Case(
        name, primitive, lambda *a: call(gw, *a), lambda *a: call(_torch(), *a), shapes, low
    )


def _einsum(equation: str, *shapes: tuple) -> Case:
    return _same(f"einsum {equation}", ops.Einsum,
                 lambda lib, *a: lib.einsum(equation, *a), shapes)  # fmt: skip


def _norm(name: str, primitive: type, call, shape: tuple) -> Case:
    return _same(name, primitive, call, (shape,))


CASES = [
    # ------------------------------------------------------------ products
    _same("mm", ops.MatMul, lambda lib, a, b: a.mm(b), ((3, 4), (4, 2))),
    _same("mm function", ops.MatMul, lambda lib, a, b: lib.mm(a, b), ((1, 3), (3, 5))),
    _same("bmm", ops.MatMul, lambda lib, a, b: a.bmm(b), ((2, 3, 4), (2, 4, 5))),
    _same("bmm function", ops.MatMul, lambda lib, a, b: lib.bmm(a, b), ((3, 1, 2), (3, 2, 2))),
    _same("dot", ops.MatMul, lambda lib, a, b: a.dot(b), ((5,), (5,))),
    _same("dot function", ops.MatMul, lambda lib, a, b: lib.dot(a, b), ((3,), (3,))),
    _same("outer", ops.Mul, lambda lib, a, b: a.outer(b), ((3,), (4,))),
    _same("outer function", ops.Mul, lambda lib, a, b: lib.outer(a, b), ((2,), (3,))),
    _same("ger", ops.Mul, lambda lib, a, b: a.ger(b), ((2,), (2,))),
    # -------------------------------------------------------------- einsum
    _einsum("ij,jk->ik", (3, 4), (4, 2)),
    _einsum("bij,bjk->bik", (2, 3, 4), (2, 4, 2)),
    _einsum("i,j->ij", (3,), (4,)),
    _einsum("i,i->", (5,), (5,)),
    _einsum("ij->ji", (3, 4)),
    _einsum("ij->", (3, 4)),
    _einsum("ij->i", (3, 4)),
    _einsum("ij,jk", (3, 4), (4, 2)),  # implicit output
    _einsum("ba,cb", (3, 4), (2, 3)),  # implicit output sorts the letters
    _einsum("ii->i", (3, 3)),
    _einsum("ii", (4, 4)),
    _einsum("iij->ij", (3, 3, 2)),
    _einsum("...ij,...jk->...ik", (2, 1, 3, 4), (5, 4, 2)),
    _einsum("...ij,jk", (2, 3, 4), (4, 2)),
    _einsum("bi,bj,bk->bijk", (2, 3), (2, 2), (2, 4)),
    _einsum("ij,jk,kl->il", (2, 3), (3, 4), (4, 2)),
    _einsum("ij,ij->ij", (3, 1), (3, 4)),  # a letter of size 1 broadcasts
    _einsum("ij,jk->ijk", (2, 3), (3, 2)),
    _einsum(",i->i", (), (3,)),
    _same(
        "einsum list of operands",
        ops.Einsum,
        lambda lib, a, b: lib.einsum("ij,j->i", [a, b]),
        ((3, 4), (4,)),
    ),
    _same(
        "einsum sublist form",
        ops.Einsum,
        lambda lib, a, b: lib.einsum(a, [0, 1], b, [1, 2], [0, 2]),
        ((3, 4), (4, 2)),
    ),
    # --------------------------------------------------------------- norms
    _norm("norm", ops.VectorNorm, lambda lib, a: a.norm(), (3, 4)),
    _norm("norm dim", ops.VectorNorm, lambda lib, a: a.norm(dim=1), (3, 4)),
    _norm("norm p=1 keepdim", ops.VectorNorm, lambda lib, a: a.norm(1, 0, True), (3, 4)),
    _norm("norm p=3 dims", ops.VectorNorm, lambda lib, a: a.norm(3, (0, 2)), (2, 3, 2)),
    _norm("norm p=0.5", ops.VectorNorm, lambda lib, a: a.norm(0.5, -1), (3, 4)),
    _norm("norm p=1.5", ops.VectorNorm, lambda lib, a: a.norm(1.5), (5,)),
    _norm("norm p=inf", ops.VectorNorm, lambda lib, a: a.norm(INF, 1), (3, 4)),
    _norm("norm p=-inf", ops.VectorNorm, lambda lib, a: a.norm(-INF), (3, 4)),
    _norm("norm p=0", ops.VectorNorm, lambda lib, a: a.norm(0, 1) * a.sum(1), (3, 4)),
    _norm("norm fro dims", ops.VectorNorm, lambda lib, a: a.norm("fro", (0, 1)), (3, 4, 2)),
    _norm("norm nuc", ops.SingularValues, lambda lib, a: a.norm("nuc"), (3, 4)),
    _norm("norm function", ops.VectorNorm, lambda lib, a: lib.norm(a, 2, 0), (3, 4)),
    _norm("vector_norm", ops.VectorNorm, lambda lib, a: lib.linalg.vector_norm(a), (3, 4)),
    _norm(
        "vector_norm ord=4 dim",
        ops.VectorNorm,
        lambda lib, a: lib.linalg.vector_norm(a, 4, -1, True),
        (3, 4),
    ),
    _norm("matrix_norm fro", ops.VectorNorm, lambda lib, a: lib.linalg.matrix_norm(a), (2, 3, 4)),
    _norm("matrix_norm 1", ops.Amax, lambda lib, a: lib.linalg.matrix_norm(a, 1), (3, 4)),
    _norm(
        "matrix_norm -1 keepdim",
        ops.Amin,
        lambda lib, a: lib.linalg.matrix_norm(a, -1, keepdim=True),
        (2, 3, 4),
    ),
    _norm("matrix_norm inf", ops.Amax, lambda lib, a: lib.linalg.matrix_norm(a, INF), (3, 4)),
    _norm(
        "matrix_norm -inf dims",
        ops.Amin,
        lambda lib, a: lib.linalg.matrix_norm(a, -INF, (0, 2)),
        (3, 2, 4),
    ),
    _norm(
        "matrix_norm 2", ops.SingularValues, lambda lib, a: lib.linalg.matrix_norm(a, 2), (2, 3, 4)
    ),
    _norm(
        "matrix_norm -2 keepdim",
        ops.SingularValues,
        lambda lib, a: lib.linalg.matrix_norm(a, -2, (2, 0), keepdim=True),
        (4, 2, 3),
    ),
    _norm(
        "matrix_norm nuc",
        ops.SingularValues,
        lambda lib, a: lib.linalg.matrix_norm(a, "nuc"),
        (4, 3),
    ),
    _norm("linalg.norm", ops.VectorNorm, lambda lib, a: lib.linalg.norm(a), (2, 3, 4)),
    _norm("linalg.norm dim", ops.VectorNorm, lambda lib, a: lib.linalg.norm(a, 3, 1), (3, 4)),
    _norm("linalg.norm 2-D ord", ops.Amax, lambda lib, a: lib.linalg.norm(a, INF), (3, 4)),
    _norm(
        "linalg.norm dims", ops.VectorNorm, lambda lib, a: lib.linalg.norm(a, dim=(0, 2)), (3, 2, 4)
    ),
    # ---------------------------------------------------------- statistics
    _norm("var_mean", ops.Mean, lambda lib, a: lib.stack(lib.var_mean(a)), (3, 4)),
    _norm(
        "var_mean dim keepdim",
        ops.Mean,
        lambda lib, a: lib.cat(lib.var_mean(a, 1, keepdim=True), 1),
        (3, 4),
    ),
    _norm("std_mean", ops.Sqrt, lambda lib, a: lib.stack(lib.std_mean(a, 0)), (3, 4)),
    _norm(
        "std_mean correction",
        ops.Sqrt,
        lambda lib, a: lib.stack(lib.std_mean(a, (0, 1), correction=0)),
        (3, 4, 2),
    ),
    # -------------------------------------------------------- dtype changes
    _norm(
        "type", ops.Cast, lambda lib, a: a.type(lib.float64) * a.type("torch.DoubleTensor"), (3,)
    ),
    _norm("type_as", ops.Cast, lambda lib, a: a.type_as(a) * a, (3,)),
    _norm("view(*shape)", ops.Reshape, lambda lib, a: a.view(4, 3), (3, 4)),
]
