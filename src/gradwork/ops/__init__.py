"""The primitive ops: each a `Function` with `forward` and `backward` on raw arrays.

`PRIMITIVES` lists every one; the test suite fails if one lacks a test entry.
"""

from gradwork.ops.attention import ScaledDotProductAttention
from gradwork.ops.conv import Conv2d, ConvTranspose2d
from gradwork.ops.device import ToDevice
from gradwork.ops.elementwise import (
    Abs,
    Add,
    Clamp,
    Cos,
    Div,
    Exp,
    Log,
    Log1p,
    Maximum,
    Minimum,
    Mul,
    Neg,
    Pow,
    Relu,
    Sigmoid,
    Sign,
    Sin,
    Sqrt,
    Sub,
    Tanh,
    Where,
)
from gradwork.ops.embedding import EmbeddingLookup
from gradwork.ops.linalg import Einsum, Linear, MatMul, SingularValues, VectorNorm
from gradwork.ops.loss import (
    BinaryCrossEntropy,
    BinaryCrossEntropyWithLogits,
    CrossEntropy,
    NLLLoss,
)
from gradwork.ops.movement import (
    Cast,
    Cat,
    ConstantPad,
    Expand,
    Gather,
    GetItem,
    IndexSelect,
    Permute,
    Reshape,
    SetItem,
    Stack,
)
from gradwork.ops.norm import BatchNorm, Normalize
from gradwork.ops.pointwise import PRIMITIVES as _POINTWISE
from gradwork.ops.pool import AvgPool2d, Fold, MaxPool2d, MaxUnpool2d, Unfold
from gradwork.ops.recurrent import GRUSequence, LSTMSequence, RNNSequence
from gradwork.ops.reduce import Amax, Amin, LogSoftmax, LogSumExp, Mean, Prod, Sum
from gradwork.ops.scan import PRIMITIVES as _SCAN
from gradwork.ops.special import Erf, Step

PRIMITIVES = (
    Add, Sub, Mul, Div, Neg, Pow, Exp, Log, Log1p, Sqrt, Abs, Sign, Sin, Cos, Clamp,
    Relu, Sigmoid, Tanh, Maximum, Minimum, Where,
    Sum, Mean, Amax, Amin, Prod, LogSumExp, LogSoftmax,
    Reshape, Permute, Expand, Cast, GetItem, SetItem, IndexSelect, Gather, ConstantPad, Cat, Stack,
    MatMul, Linear, Einsum, VectorNorm, SingularValues,
    RNNSequence, LSTMSequence, GRUSequence, EmbeddingLookup,
    Conv2d, ConvTranspose2d, MaxPool2d, AvgPool2d, MaxUnpool2d, Unfold, Fold, BatchNorm, Normalize,
    CrossEntropy, NLLLoss, BinaryCrossEntropy, BinaryCrossEntropyWithLogits, Erf, Step,
    ScaledDotProductAttention, ToDevice,
    *_POINTWISE,  # ops/pointwise.py
    *_SCAN,  # ops/scan.py
)  # fmt: skip

__all__ = [cls.__name__ for cls in PRIMITIVES] + ["PRIMITIVES"]
