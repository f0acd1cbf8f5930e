"""gradwork.nn: modules, layers, activations, losses and initialisation, with torch's API.

A PyTorch model definition runs here with `torch` changed to `gradwork`, and
loads the PyTorch model's own `state_dict()` unchanged. See README.md in
this folder for the design.

Example:
    >>> import gradwork as gw
    >>> from gradwork import nn
    >>> model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> loss = nn.CrossEntropyLoss()(model(gw.randn(5, 4)), gw.tensor([0, 1, 2, 0, 1]))
    >>> loss.backward()
    >>> model[0].weight.grad.shape
    (8, 4)
"""

from gradwork.nn import functional, init, utils, utils_rnn
from gradwork.nn._errors import LayerInputError
from gradwork.nn.activation import (
    CELU,
    ELU,
    GELU,
    SELU,
    Hardsigmoid,
    Hardswish,
    Hardtanh,
    LeakyReLU,
    LogSigmoid,
    LogSoftmax,
    Mish,
    ReLU,
    ReLU6,
    Sigmoid,
    SiLU,
    Softmax,
    Softmin,
    Softplus,
    Softsign,
    Step,
    Swish,
    Tanh,
)
from gradwork.nn.attention import MultiheadAttention
from gradwork.nn.blocks import BasicBlock, Residual
from gradwork.nn.container import ModuleDict, ModuleList, Sequential
from gradwork.nn.conv import Conv1d, Conv2d, ConvTranspose2d
from gradwork.nn.distance import CosineSimilarity, PairwiseDistance
from gradwork.nn.dropout import Dropout, Dropout2d
from gradwork.nn.embedding import Embedding
from gradwork.nn.fold import Fold, Unfold
from gradwork.nn.linear import Flatten, Identity, Linear, Unflatten
from gradwork.nn.loss import (
    BCELoss,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    HuberLoss,
    KLDivLoss,
    L1Loss,
    MSELoss,
    MultiMarginLoss,
    NLLLoss,
    SmoothL1Loss,
)
from gradwork.nn.module import Module, RemovableHandle
from gradwork.nn.normalization import (
    BatchNorm1d,
    BatchNorm2d,
    GroupNorm,
    InstanceNorm2d,
    LayerNorm,
    RMSNorm,
)
from gradwork.nn.parallel import SyncBatchNorm  # also gradwork.nn.parallel
from gradwork.nn.parameter import Parameter
from gradwork.nn.pooling import (
    AdaptiveAvgPool2d,
    AdaptiveMaxPool2d,
    AvgPool1d,
    AvgPool2d,
    MaxPool1d,
    MaxPool2d,
    MaxUnpool2d,
)
from gradwork.nn.positional import LearnedPositionalEmbedding, SinusoidalPositionalEncoding
from gradwork.nn.recurrent import GRU, LSTM, RNN, RNNBase
from gradwork.nn.rnn_cell import GRUCell, LSTMCell, RNNCell, RNNCellBase
from gradwork.nn.summary import Summary, summary
from gradwork.nn.transformer import (
    Transformer,
    TransformerDecoder,
    TransformerDecoderLayer,
    TransformerEncoder,
    TransformerEncoderLayer,
)
from gradwork.nn.upsample import Upsample, UpsamplingBilinear2d, UpsamplingNearest2d

# Layers, activations and losses: the test table has one entry for each of these.
LAYERS = [
    "Identity", "Linear", "Flatten", "Unflatten", "Conv1d", "Conv2d", "ConvTranspose2d",
    "MaxPool1d", "MaxPool2d", "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d",
    "Dropout", "Dropout2d", "BatchNorm1d", "BatchNorm2d", "LayerNorm", "InstanceNorm2d",
    "GroupNorm", "Residual", "BasicBlock", "MaxUnpool2d", "Upsample", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "Unfold", "Fold", "CosineSimilarity", "PairwiseDistance", "RMSNorm",
]  # fmt: skip
ACTIVATIONS = [
    "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Swish", "Sigmoid", "Tanh", "Softmax",
    "LogSoftmax", "Softplus", "Step", "Hardtanh", "ReLU6", "Hardswish", "Hardsigmoid", "Mish",
    "SELU", "CELU", "Softsign", "LogSigmoid", "Softmin",
]  # fmt: skip
LOSSES = [
    "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss", "BCELoss", "BCEWithLogitsLoss",
    "CrossEntropyLoss", "NLLLoss", "MultiMarginLoss", "KLDivLoss",
]  # fmt: skip
# Sequence models: tests/nn/test_recurrent.py, test_rnn_cell.py, test_embedding.py.
SEQUENCE_LAYERS = ["Embedding", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell"]
# Attention: tests/nn/test_attention.py and test_transformer.py.
ATTENTION_LAYERS = [
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
    "TransformerDecoderLayer", "TransformerDecoder", "Transformer",
]  # fmt: skip

__all__ = [
    "SyncBatchNorm", "parallel",
    "Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "RemovableHandle",
    "LayerInputError", "Summary", "summary", "functional", "init", "Identity", "Linear",
    "Flatten", "Unflatten", "Conv1d", "Conv2d", "ConvTranspose2d", "MaxPool1d", "MaxPool2d",
    "AvgPool1d", "AvgPool2d", "AdaptiveAvgPool2d", "AdaptiveMaxPool2d", "Dropout", "Dropout2d",
    "BatchNorm1d", "BatchNorm2d", "LayerNorm", "InstanceNorm2d", "GroupNorm", "Residual",
    "BasicBlock", "ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Swish", "Sigmoid", "Tanh",
    "Softmax", "LogSoftmax", "Softplus", "Step", "MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss",
    "BCELoss", "BCEWithLogitsLoss", "CrossEntropyLoss", "NLLLoss", "MultiMarginLoss",
    "Embedding", "RNN", "LSTM", "GRU", "RNNCell", "LSTMCell", "GRUCell", "RNNBase",
    "RNNCellBase", "utils", "utils_rnn", "MaxUnpool2d", "Upsample", "UpsamplingNearest2d",
    "UpsamplingBilinear2d", "Unfold", "Fold", "CosineSimilarity", "PairwiseDistance", "Hardtanh",
    "ReLU6", "Hardswish", "Hardsigmoid", "Mish", "SELU", "CELU", "Softsign", "LogSigmoid",
    "Softmin", "KLDivLoss", "RMSNorm", "LearnedPositionalEmbedding",
    "SinusoidalPositionalEncoding",
    "MultiheadAttention", "TransformerEncoderLayer", "TransformerEncoder",
    "TransformerDecoderLayer", "TransformerDecoder", "Transformer", "ATTENTION_LAYERS",
]  # fmt: skip
