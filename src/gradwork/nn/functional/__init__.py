"""gradwork.nn.functional (import as F): every layer, activation and loss as a function.

Names, arguments and defaults are torch's (torch.nn.functional).

Example:
    >>> import gradwork as gw
    >>> import gradwork.nn.functional as F
    >>> F.relu(gw.tensor([-1.0, 1.0]))
    tensor([0., 1.])
"""

from gradwork.functions import pad
from gradwork.nn.embedding import embedding  # noqa: E402 - beside its layer, like torch
from gradwork.nn.functional._activation import (
    celu,
    elu,
    gelu,
    hardsigmoid,
    hardswish,
    hardtanh,
    leaky_relu,
    log_softmax,
    logsigmoid,
    mish,
    relu,
    relu6,
    selu,
    sigmoid,
    silu,
    softmax,
    softmin,
    softplus,
    softsign,
    step,
    swish,
    tanh,
)
from gradwork.nn.functional._attention import scaled_dot_product_attention
from gradwork.nn.functional._conv_pool import (
    adaptive_avg_pool2d,
    adaptive_max_pool2d,
    avg_pool1d,
    avg_pool2d,
    conv1d,
    conv2d,
    conv_transpose2d,
    linear,
    max_pool1d,
    max_pool2d,
    max_unpool2d,
)
from gradwork.nn.functional._distance import cosine_similarity, normalize, pairwise_distance
from gradwork.nn.functional._fold import fold, unfold
from gradwork.nn.functional._loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    huber_loss,
    kl_div,
    l1_loss,
    mse_loss,
    multi_margin_loss,
    nll_loss,
    smooth_l1_loss,
)
from gradwork.nn.functional._norm_dropout import (
    batch_norm,
    dropout,
    dropout2d,
    group_norm,
    instance_norm,
    layer_norm,
    one_hot,
    rms_norm,
)
from gradwork.nn.functional._upsample import interpolate

__all__ = [
    "embedding", "pad", "relu", "leaky_relu", "elu", "gelu", "silu", "swish", "sigmoid", "tanh",
    "softplus",
    "softmax", "log_softmax", "step", "linear", "conv1d", "conv2d", "conv_transpose2d",
    "max_pool1d", "max_pool2d", "avg_pool1d", "avg_pool2d", "adaptive_avg_pool2d",
    "adaptive_max_pool2d", "batch_norm", "layer_norm", "rms_norm", "group_norm", "instance_norm",
    "dropout", "dropout2d", "one_hot", "mse_loss", "l1_loss", "huber_loss", "smooth_l1_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss",
    "multi_margin_loss", "hardtanh", "relu6", "hardswish", "hardsigmoid", "mish", "selu",
    "celu", "softsign", "logsigmoid", "softmin", "normalize", "cosine_similarity",
    "pairwise_distance", "kl_div", "interpolate", "unfold", "fold", "max_unpool2d",
    "scaled_dot_product_attention",
]  # fmt: skip
