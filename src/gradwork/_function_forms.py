"""`gradwork.sum(t, ...)`, `gradwork.exp(t)`, ...: function forms of Tensor methods.

They live in this module alone because their names (sum, min, max, abs, any,
all, pow) shadow Python's builtins wherever they are defined.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from gradwork import dtypes
from gradwork.tensor import Tensor


def _method_form(name: str):
    """`gradwork.<name>(t, *args)`: calls `t.<name>(*args)` (t made a tensor if needed)."""

    def function(input: Tensor, *args: Any, **kwargs: Any) -> Any:  # noqa: A002
        if not isinstance(input, Tensor):
            input = Tensor(_first_operand(input, args[0] if args else None))  # noqa: A001
        return getattr(input, name)(*args, **kwargs)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = f"`gradwork.{name}(t, ...)` is `t.{name}(...)`; see Tensor.{name}."
    function.is_method_form = True
    return function


def _first_operand(value: Any, other: Any) -> Any:
    """The array for a non-tensor first operand. A Python number beside a tensor is
    torch's "wrapped number": it takes the op's result dtype, so gradwork.add(0.1, t)
    with t float64 adds 0.1 in float64 (not rounded to float32 first); alone, torch's
    inference (a Python float is float32, an int int64).

    Example:
        >>> import gradwork as gw
        >>> _first_operand(0.1, gw.tensor([0.0], dtype=gw.float64)).item() == 0.1
        True
    """
    # NOTE: a bool stays bool, as torch keeps it (gradwork.sub(False, t) raises as torch does)
    number = isinstance(value, int | float | complex) and not isinstance(value, bool)
    if number and isinstance(other, Tensor):
        return np.asarray(value, dtype=dtypes.result_type(value, other))
    return dtypes.infer_array(value)


# One line a function, so each name can be found with grep.
add = _method_form("add")
sub = _method_form("sub")
mul = _method_form("mul")
div = _method_form("div")
true_divide = _method_form("true_divide")
neg = _method_form("neg")
pow = _method_form("pow")
matmul = _method_form("matmul")
exp = _method_form("exp")
log = _method_form("log")
log1p = _method_form("log1p")
sqrt = _method_form("sqrt")
rsqrt = _method_form("rsqrt")
abs = _method_form("abs")
sign = _method_form("sign")
sin = _method_form("sin")
cos = _method_form("cos")
reciprocal = _method_form("reciprocal")
square = _method_form("square")
clamp = _method_form("clamp")
clip = _method_form("clip")
maximum = _method_form("maximum")
minimum = _method_form("minimum")
relu = _method_form("relu")
sigmoid = _method_form("sigmoid")
tanh = _method_form("tanh")
softmax = _method_form("softmax")
log_softmax = _method_form("log_softmax")
logsumexp = _method_form("logsumexp")
sum = _method_form("sum")
mean = _method_form("mean")
var = _method_form("var")
std = _method_form("std")
prod = _method_form("prod")
amax = _method_form("amax")
amin = _method_form("amin")
max = _method_form("max")
min = _method_form("min")
argmax = _method_form("argmax")
argmin = _method_form("argmin")
all = _method_form("all")
any = _method_form("any")
isnan = _method_form("isnan")
isfinite = _method_form("isfinite")
reshape = _method_form("reshape")
flatten = _method_form("flatten")
squeeze = _method_form("squeeze")
unsqueeze = _method_form("unsqueeze")
transpose = _method_form("transpose")
permute = _method_form("permute")
split = _method_form("split")
chunk = _method_form("chunk")
unbind = _method_form("unbind")
gather = _method_form("gather")
index_select = _method_form("index_select")
masked_fill = _method_form("masked_fill")
numel = _method_form("numel")

# --- pointwise math (_tensor_pointwise.py): one line each, as above
divide = _method_form("divide")
floor_divide = _method_form("floor_divide")
remainder = _method_form("remainder")
fmod = _method_form("fmod")
floor = _method_form("floor")
ceil = _method_form("ceil")
round = _method_form("round")
trunc = _method_form("trunc")
fix = _method_form("fix")
frac = _method_form("frac")
tan = _method_form("tan")
asin = _method_form("asin")
acos = _method_form("acos")
atan = _method_form("atan")
atan2 = _method_form("atan2")
arcsin = _method_form("arcsin")
arccos = _method_form("arccos")
arctan = _method_form("arctan")
arctan2 = _method_form("arctan2")
sinh = _method_form("sinh")
cosh = _method_form("cosh")
asinh = _method_form("asinh")
acosh = _method_form("acosh")
atanh = _method_form("atanh")
arcsinh = _method_form("arcsinh")
arccosh = _method_form("arccosh")
arctanh = _method_form("arctanh")
hypot = _method_form("hypot")
log2 = _method_form("log2")
log10 = _method_form("log10")
exp2 = _method_form("exp2")
expm1 = _method_form("expm1")
logaddexp = _method_form("logaddexp")
logaddexp2 = _method_form("logaddexp2")
erf = _method_form("erf")
erfc = _method_form("erfc")
erfinv = _method_form("erfinv")
lerp = _method_form("lerp")
isinf = _method_form("isinf")
isposinf = _method_form("isposinf")
isneginf = _method_form("isneginf")
isclose = _method_form("isclose")
allclose = _method_form("allclose")
logical_not = _method_form("logical_not")
logical_and = _method_form("logical_and")
logical_or = _method_form("logical_or")
logical_xor = _method_form("logical_xor")
bitwise_not = _method_form("bitwise_not")
bitwise_and = _method_form("bitwise_and")
bitwise_or = _method_form("bitwise_or")
bitwise_xor = _method_form("bitwise_xor")

# --- scans, sorting, scatter (_tensor_scan.py)
cumsum = _method_form("cumsum")
cumprod = _method_form("cumprod")
cummax = _method_form("cummax")
cummin = _method_form("cummin")
sort = _method_form("sort")
argsort = _method_form("argsort")
topk = _method_form("topk")
flip = _method_form("flip")
roll = _method_form("roll")
repeat_interleave = _method_form("repeat_interleave")
tril = _method_form("tril")
triu = _method_form("triu")
diag = _method_form("diag")
diagonal = _method_form("diagonal")
trace = _method_form("trace")
unflatten = _method_form("unflatten")
nonzero = _method_form("nonzero")
masked_select = _method_form("masked_select")
scatter = _method_form("scatter")
scatter_add = _method_form("scatter_add")
scatter_reduce = _method_form("scatter_reduce")
index_add = _method_form("index_add")

# --- linear algebra and statistics (_tensor_linalg.py)
mm = _method_form("mm")
bmm = _method_form("bmm")
dot = _method_form("dot")
outer = _method_form("outer")
ger = _method_form("ger")
norm = _method_form("norm")

_METHOD_FORMS = tuple(
    name for name, value in list(globals().items()) if getattr(value, "is_method_form", False)
)
__all__ = list(_METHOD_FORMS)
