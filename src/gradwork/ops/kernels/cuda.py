"""Kernels for device arrays (CuPy, or the CPU stand-in): fused elementwise chains.

On a GPU the cost of a NumPy-style chain is one kernel launch and one pass
over memory per call. Here each elementwise chain is ONE kernel
(`cuda_fusion.FusedKernel`, through `cupy.fuse`): Adam's update of m, v and
the parameter (amsgrad too), ReLU's backward, batch norm's normalise + affine
and its input gradient, and cross-entropy's softmax-minus-target gradient.
Each body is a plain function over ufuncs; run unfused on NumPy it is the
reference it must equal (tests/device/test_cuda_kernels.py).

Kept from `reference.py` (already the right calls on CuPy):
- ReLU forward: one `maximum`, already a single kernel;
- convolution: im2col (a strided view + one copy) and one cuBLAS GEMM per
  group. cuDNN is not an option: CuPy v14 removed it entirely
  (docs.cupy.dev/en/latest/upgrade.html, "Dropping cuDNN Support");
- max pooling: one masked max per kernel position; its winner bookkeeping
  (first maximum wins) does not fit one elementwise kernel;
- channel sums (a convolution's bias gradient): one reduction.

What is verified without a GPU, from CuPy's documentation and its own fusion
test suite (cupy/cupy, tests/cupy_tests/core_tests/fusion_tests): `cupy.fuse`
takes Python and NumPy scalars as arguments, augmented assignment and ufunc
`out=` write into an input array (`x += y`, `xp.maximum(a, b, out=a)`), a
function may return None or a tuple, `None` arguments trace, `cupy.where`,
`sqrt`, `exp`, comparisons and broadcasting of (1, C, 1, 1) against (N, C, H, W)
fuse. Scalars are handed over already cast to the arrays' dtype, so no
promotion rule (value-based or NEP 50) can widen a float32 kernel. Unverified
until a GPU run (benchmarks/gpu_check.sh): that each kernel compiles, its
speed, and bitwise equality (nvrtc contracts a*b+c into FMA by default, so
float32 results may differ from the reference in the last bit). Reductions
stay outside the fused bodies (CuPy's CUB reductions).

Example:
    >>> from gradwork import _standin as xp
    >>> relu_backward(xp.asarray([1.0, -2.0]), xp.asarray([0.5, 0.0])).get().tolist()
    [1.0, -0.0]
"""

from __future__ import annotations

from gradwork._arrays import xp_of
from gradwork.ops.kernels import reference
from gradwork.ops.kernels.cuda_fusion import FusedKernel

# -- kept from the reference (see the module docstring) ----------------------------------------
relu_forward = reference.relu_forward
conv2d_forward = reference.conv2d_forward
conv2d_backward = reference.conv2d_backward
max_pool2d_forward = reference.max_pool2d_forward
max_pool2d_backward = reference.max_pool2d_backward
channel_sums = reference.channel_sums


# -- ReLU backward: compare, invert, multiply -> one kernel -----------------------------------
def _relu_backward(xp):
    def relu_backward(grad, out):
        # NOTE: ~(out <= 0), not out > 0: a NaN output passes its gradient on, as in torch.
        return grad * ~(out <= 0)

    return relu_backward


RELU_BACKWARD = FusedKernel("relu_backward", _relu_backward)


def relu_backward(grad, out):
    """The gradient where the output is positive (or NaN), 0 where it is 0."""
    return RELU_BACKWARD(grad, out)


# -- batch norm: statistics by CuPy's reductions, the elementwise parts fused ------------------
def _squared_deviation(xp):
    def squared_deviation(x, mean):
        deviation = x - mean
        return deviation * deviation  # NumPy's x ** 2 is this product, rounding included

    return squared_deviation


def _inverse_std(xp):
    def inverse_std(var, eps):
        return 1 / xp.sqrt(var + eps)

    return inverse_std


def _normalise_affine(xp):
    def normalise_affine(x, mean, invstd, weight, bias):
        xhat = (x - mean) * invstd
        out = xhat.copy() if weight is None else xhat * weight
        if bias is not None:
            out = out + bias
        return xhat, out

    return normalise_affine


def _batch_norm_input_grad(xp):
    def batch_norm_input_grad(grad, xhat, scale, sum_grad, sum_grad_xhat, count):
        return scale * (grad - sum_grad / count - xhat * (sum_grad_xhat / count))

    return batch_norm_input_grad


SQUARED_DEVIATION = FusedKernel("squared_deviation", _squared_deviation)
INVERSE_STD = FusedKernel("inverse_std", _inverse_std)
NORMALISE_AFFINE = FusedKernel("normalise_affine", _normalise_affine)
BATCH_NORM_INPUT_GRAD = FusedKernel("batch_norm_input_grad", _batch_norm_input_grad)


def batch_norm_forward(x, weight, bias, eps):
    """(out, xhat, invstd, mean, var), as reference.batch_norm_forward, in 3 reductions
    and 3 fused kernels."""
    axes = reference._channel_axes(x)
    shape = (1, x.shape[1]) + (1,) * (x.ndim - 2)
    mean = x.mean(axis=axes, keepdims=True)
    var = SQUARED_DEVIATION(x, mean).mean(axis=axes, keepdims=True)
    invstd = INVERSE_STD(var, x.dtype.type(eps))
    weight = None if weight is None else weight.reshape(shape)
    bias = None if bias is None else bias.reshape(shape)
    xhat, out = NORMALISE_AFFINE(x, mean, invstd, weight, bias)
    return out, xhat, invstd, mean, var


def batch_norm_backward(grad, xhat, invstd, weight, need_x):
    """(grad_x or None, sum of grad * xhat, sum of grad), as the reference; grad_x fused."""
    axes = reference._channel_axes(grad)
    sum_grad = grad.sum(axis=axes, keepdims=True)
    sum_grad_xhat = (grad * xhat).sum(axis=axes, keepdims=True)
    grad_x = None
    if need_x:
        count = grad.dtype.type(grad.size // grad.shape[1])
        scale = invstd if weight is None else invstd * weight.reshape(invstd.shape)
        grad_x = BATCH_NORM_INPUT_GRAD(grad, xhat, scale, sum_grad, sum_grad_xhat, count)
    return grad_x, sum_grad_xhat.reshape(-1), sum_grad.reshape(-1)


# -- Adam: m, v (and v_max) and the parameter in one pass, in place ---------------------------
def _adam(xp):
    def adam_update(param, grad, m, v, one_minus_beta1, beta2, one_minus_beta2, bias2_sqrt,
                    eps, step_size):  # fmt: skip
        m += one_minus_beta1 * (grad - m)
        v *= beta2
        v += one_minus_beta2 * grad * grad
        param -= step_size * (m / (xp.sqrt(v) / bias2_sqrt + eps))

    return adam_update


def _amsgrad(xp):
    def amsgrad_update(param, grad, m, v, v_max, one_minus_beta1, beta2, one_minus_beta2,
                       bias2_sqrt, eps, step_size):  # fmt: skip
        m += one_minus_beta1 * (grad - m)
        v *= beta2
        v += one_minus_beta2 * grad * grad
        xp.maximum(v_max, v, out=v_max)
        param -= step_size * (m / (xp.sqrt(v_max) / bias2_sqrt + eps))

    return amsgrad_update


ADAM = FusedKernel("adam_update", _adam)
AMSGRAD = FusedKernel("amsgrad_update", _amsgrad)


def adam_step(param, grad, m, v, v_max, lr, beta1, beta2, eps, step, work=None):
    """torch.optim.Adam's update in place on param, m, v (and v_max): ONE kernel.

    The step's coefficients are computed on the host in double precision, as
    the reference does, and handed over in the parameter's dtype. `work` is
    not needed: the fused kernel keeps its temporaries in registers.
    """
    scalar = param.dtype.type
    coefficients = (
        scalar(1 - beta1),
        scalar(beta2),
        scalar(1 - beta2),
        scalar((1 - beta2**step) ** 0.5),
        scalar(eps),
        scalar(lr / (1 - beta1**step)),
    )
    if v_max is None:
        ADAM(param, grad, m, v, *coefficients)
    else:
        AMSGRAD(param, grad, m, v, v_max, *coefficients)


# -- cross-entropy: (softmax - onehot) * amount, one kernel, no scatter -----------------------
def _softmax_minus_target(xp):
    def softmax_minus_target(log_p, target, amount, classes, zero):
        # exp(log_p) * amount, less amount at the target class: the reference's rounding
        # (its scatter subtracts `amount` there; elsewhere x - 0 is x exactly).
        return xp.exp(log_p) * amount - xp.where(classes == target, amount, zero)

    return softmax_minus_target


SOFTMAX_MINUS_TARGET = FusedKernel("softmax_minus_target", _softmax_minus_target)


def softmax_minus_target(log_p, target, amount):
    """Cross-entropy's logit gradient, as kernels.softmax_minus_target: the one-hot
    comes from comparing each class index with the target, so no scatter is needed."""
    xp = xp_of(log_p)
    classes = xp.arange(log_p.shape[1]).reshape((1, -1) + (1,) * (log_p.ndim - 2))
    target = target.reshape((target.shape[0], 1) + target.shape[1:])
    return SOFTMAX_MINUS_TARGET(log_p, target, amount, classes, log_p.dtype.type(0))
