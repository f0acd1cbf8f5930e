"""The Transformer family: torch parity per configuration and mask, gradcheck, errors.

Parity loads torch's own state_dict unchanged (same key names), runs both with
dropout 0 in float64 (to 1e-10) and float32 (to 1e-4), and compares outputs and
the gradients of every input and parameter under the same random projection.
"""

import warnings

import numpy as np
import pytest

import gradwork as gw
from gradwork import nn
from gradwork.diagnose import gradcheck
from tests.helpers import to_numpy

D, HEADS, FF, SRC, TGT, N = 8, 2, 16, 5, 4, 3


def _layer_kwargs(config):
    kwargs = {"dim_feedforward": FF, "dropout": 0.0}
    kwargs.update({k: v for k, v in config.items() if k in (
        "batch_first", "norm_first", "activation", "bias", "layer_norm_eps")})  # fmt: skip
    return kwargs


def _activation(lib, name):
    """'module_gelu' -> an nn.GELU() instance; 'function_relu' -> F.relu; strings unchanged."""
    if name == "module_gelu":
        return lib.nn.GELU()
    if name == "function_relu":
        return lib.nn.functional.relu
    return name


def build(lib, kind, config):
    kwargs = _layer_kwargs(config)
    if "activation" in kwargs:
        kwargs["activation"] = _activation(lib, kwargs["activation"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch: "enable_nested_tensor is True, but ..."
        if kind == "encoder_layer":
            return lib.nn.TransformerEncoderLayer(D, HEADS, **kwargs)
        if kind == "decoder_layer":
            return lib.nn.TransformerDecoderLayer(D, HEADS, **kwargs)
        if kind == "encoder":
            layer = lib.nn.TransformerEncoderLayer(D, HEADS, **kwargs)
            return lib.nn.TransformerEncoder(layer, 2, norm=lib.nn.LayerNorm(D))
        if kind == "decoder":
            layer = lib.nn.TransformerDecoderLayer(D, HEADS, **kwargs)
            return lib.nn.TransformerDecoder(layer, 2)
        return lib.nn.Transformer(D, HEADS, 1, 2, **kwargs)


def make_pair(torch, kind, config, dtype):
    theirs = build(torch, kind, config).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():  # move LayerNorm off (1, 0) so its gradients are tested fully
        for parameter in theirs.parameters():
            parameter.add_(0.05 * torch.randn_like(parameter))
    ours = build(gw, kind, config).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


# name: (module kind, configuration, forward masks)
CASES = {
    "encoder_layer": ("encoder_layer", {}, {}),
    "encoder_layer_batch_first": ("encoder_layer", {"batch_first": True}, {}),
    "encoder_layer_norm_first_gelu": ("encoder_layer", {"norm_first": True, "activation": "gelu"},
                                      {}),
    "encoder_layer_module_activation": ("encoder_layer", {"activation": "module_gelu"}, {}),
    "encoder_layer_function_activation": ("encoder_layer", {"activation": "function_relu"}, {}),
    "encoder_layer_no_bias": ("encoder_layer", {"bias": False, "layer_norm_eps": 1e-3}, {}),
    "encoder_layer_bool_masks": ("encoder_layer", {}, {"src_mask": "bool", "src_key_padding_mask":
                                                      "bool"}),
    "encoder_layer_float_masks": ("encoder_layer", {"batch_first": True},
                                  {"src_mask": "float", "src_key_padding_mask": "float"}),
    "encoder_layer_causal": ("encoder_layer", {"batch_first": True},
                             {"src_mask": "causal", "is_causal": True}),
    "encoder_layer_unbatched": ("encoder_layer", {"norm_first": True}, {"unbatched": True,
                                                                       "src_mask": "bool"}),
    "encoder": ("encoder", {}, {}),
    "encoder_masks": ("encoder", {"batch_first": True}, {"mask": "causal",
                                                         "src_key_padding_mask": "bool"}),
    "encoder_causal_detected": ("encoder", {"norm_first": True}, {"mask": "causal"}),
    "encoder_causal_hint": ("encoder", {}, {"mask": "causal", "is_causal": True}),
    "decoder_layer": ("decoder_layer", {}, {}),
    "decoder_layer_masks": ("decoder_layer", {"batch_first": True, "norm_first": True},
                            {"tgt_mask": "causal", "tgt_is_causal": True, "memory_mask": "bool",
                             "tgt_key_padding_mask": "bool", "memory_key_padding_mask": "float"}),
    "decoder_layer_gelu_unbatched": ("decoder_layer", {"activation": "gelu"},
                                     {"unbatched": True, "tgt_mask": "causal"}),
    "decoder": ("decoder", {"batch_first": True}, {"tgt_mask": "causal"}),
    "decoder_masks": ("decoder", {"norm_first": True},
                      {"tgt_mask": "bool", "memory_key_padding_mask": "bool"}),
    "transformer": ("transformer", {}, {"tgt_mask": "causal"}),
    "transformer_all_masks": ("transformer", {"batch_first": True, "activation": "gelu"},
                              {"src_mask": "float", "tgt_mask": "causal", "memory_mask": "bool",
                               "src_key_padding_mask": "bool", "tgt_key_padding_mask": "bool",
                               "memory_key_padding_mask": "bool"}),
    "transformer_norm_first_unbatched": ("transformer", {"norm_first": True},
                                         {"unbatched": True, "tgt_mask": "causal"}),
}  # fmt: skip


def _mask(kind, rows, cols, dtype, batch=None):
    rng = np.random.default_rng(rows * 10 + cols)
    shape = (batch, cols) if batch is not None else (rows, cols)
    if kind == "causal":
        return np.triu(np.full((rows, cols), -np.inf, dtype=dtype), k=1)
    if kind == "float":
        return rng.standard_normal(shape).astype(dtype)
    mask = rng.random(shape) > 0.7  # True = masked out
    mask[..., 0] = False  # every query keeps a key
    return mask


def _lengths(name, kind):
    """(query length, key length) of a mask argument."""
    if kind in ("encoder_layer", "encoder") or name.startswith("src"):
        return SRC, SRC
    if name.startswith("memory"):
        return TGT, SRC
    return TGT, TGT


def _forward_masks(kind, masks, dtype, unbatched):
    out = {}
    for name, value in masks.items():
        if name == "unbatched":
            continue
        if isinstance(value, bool):
            out[name] = value
            continue
        rows, cols = _lengths(name, kind)
        padding = name.endswith("key_padding_mask")
        mask = _mask(value, rows, cols, dtype, batch=N if padding else None)
        out[name] = mask[0] if padding and unbatched else mask
    return out


def _inputs(kind, config, unbatched, dtype):
    rng = np.random.default_rng(11)

    def shape(steps):
        if unbatched:
            return (steps, D)
        return (N, steps, D) if config.get("batch_first") else (steps, N, D)

    if kind in ("encoder_layer", "encoder"):
        return [rng.standard_normal(shape(SRC)).astype(dtype)]
    if kind == "transformer":
        return [rng.standard_normal(shape(SRC)).astype(dtype),
                rng.standard_normal(shape(TGT)).astype(dtype)]  # fmt: skip
    return [rng.standard_normal(shape(TGT)).astype(dtype),
            rng.standard_normal(shape(SRC)).astype(dtype)]  # fmt: skip


def _run(lib, module, arrays, masks):
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    options = {k: lib.tensor(v) if isinstance(v, np.ndarray) else v for k, v in masks.items()}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # mismatched mask types are deprecated, in both
        return leaves, module(*leaves, **options)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-4)])
@pytest.mark.parametrize("case", CASES)
def test_matches_torch(case, dtype, tol, torch):
    kind, config, masks = CASES[case]
    unbatched = masks.get("unbatched", False)
    ours, theirs = make_pair(torch, kind, config, dtype)
    arrays = _inputs(kind, config, unbatched, dtype)
    forward = _forward_masks(kind, masks, dtype, unbatched)
    our_leaves, out = _run(gw, ours, arrays, forward)
    their_leaves, expected = _run(torch, theirs, arrays, forward)
    np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=tol, rtol=tol)
    projection = np.random.default_rng(2).standard_normal(out.shape).astype(dtype)
    (out * gw.tensor(projection)).sum().backward()
    (expected * torch.tensor(projection)).sum().backward()
    for i, (a, b) in enumerate(zip(our_leaves, their_leaves, strict=True)):
        np.testing.assert_allclose(to_numpy(a.grad), to_numpy(b.grad), atol=tol, rtol=tol,
                                   err_msg=f"gradient of input {i}")  # fmt: skip
    mine = dict(ours.named_parameters())
    for name, parameter in theirs.named_parameters():
        np.testing.assert_allclose(to_numpy(mine[name].grad), to_numpy(parameter.grad), atol=tol,
                                   rtol=tol, err_msg=name)  # fmt: skip


@pytest.mark.parametrize("kind", ["encoder_layer", "decoder_layer", "encoder", "decoder",
                                  "transformer"])  # fmt: skip
def test_state_dict_keys_and_repr_match_torch(kind, torch):
    for config in ({}, {"activation": "module_gelu", "bias": False}):
        ours, theirs = build(gw, kind, config), build(torch, kind, config)
        assert list(ours.state_dict()) == list(theirs.state_dict())
        for name, value in theirs.state_dict().items():
            assert tuple(ours.state_dict()[name].shape) == tuple(value.shape), name
        assert repr(ours) == repr(theirs)


def test_every_attention_layer_has_a_parity_case():
    tested = {"MultiheadAttention"}  # tests/nn/test_attention.py
    names = {"encoder_layer": "TransformerEncoderLayer", "decoder_layer":
             "TransformerDecoderLayer", "encoder": "TransformerEncoder",
             "decoder": "TransformerDecoder", "transformer": "Transformer"}  # fmt: skip
    tested |= {names[kind] for kind, _, _ in CASES.values()}
    assert tested == set(nn.ATTENTION_LAYERS)


def test_generate_square_subsequent_mask_matches_torch(torch):
    ours = nn.Transformer.generate_square_subsequent_mask(4)
    theirs = torch.nn.Transformer.generate_square_subsequent_mask(4)
    np.testing.assert_array_equal(to_numpy(ours), to_numpy(theirs))
    assert ours.dtype == gw.float32
    assert nn.Transformer.generate_square_subsequent_mask(3, dtype=gw.float64).dtype == gw.float64


def test_transformer_init_is_xavier_uniform():
    model = nn.Transformer(64, 4, 1, 1, dim_feedforward=128)
    weight = model.encoder.layers[0].linear1.weight.array  # (128, 64): default Linear init
    bound = np.sqrt(6 / (64 + 128))
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.all(model.encoder.norm.weight.array == 1)  # 1-D parameters untouched


def test_encoder_layers_are_independent_copies():
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, FF), 3)
    first, second = encoder.layers[0].linear1.weight, encoder.layers[1].linear1.weight
    assert first is not second
    np.testing.assert_array_equal(to_numpy(first), to_numpy(second))  # deep copies of one layer
    assert len(list(encoder.parameters())) == 3 * len(list(encoder.layers[0].parameters()))


def test_gradcheck_encoder_layer_inputs_and_parameters():
    layer = nn.TransformerEncoderLayer(4, 2, dim_feedforward=6, dropout=0.0, activation="gelu")
    x = gw.tensor(np.random.default_rng(0).standard_normal((3, 2, 4)), requires_grad=True)
    report = gradcheck(layer, [x], atol=1e-6, rtol=1e-4)
    assert len([c for c in report.inputs if c.name.startswith("parameter")]) == len(
        list(layer.parameters())
    )


def test_dropout_is_seeded_and_off_in_eval():
    layer = nn.TransformerEncoderLayer(D, HEADS, FF, dropout=0.3)
    x = gw.randn(SRC, N, D)
    gw.manual_seed(5)
    first = to_numpy(layer(x))
    gw.manual_seed(5)
    np.testing.assert_array_equal(to_numpy(first), to_numpy(layer(x)))
    assert not np.allclose(first, to_numpy(layer(x)))
    layer.eval()
    np.testing.assert_array_equal(to_numpy(layer(x)), to_numpy(layer(x)))


# -- errors ----------------------------------------------------------------------------
@pytest.mark.filterwarnings("ignore:enable_nested_tensor")
def test_d_model_mismatch_names_the_fix(torch):
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="d_model"):
        model(gw.randn(SRC, N, D + 1), gw.randn(TGT, N, D + 1))
    with pytest.raises(RuntimeError):
        torch.nn.Transformer(D, HEADS, 1, 1, FF)(torch.randn(SRC, N, D + 1),
                                                 torch.randn(TGT, N, D + 1))  # fmt: skip
    layer = nn.TransformerEncoderLayer(D, HEADS, FF)
    with pytest.raises(AssertionError, match="embed_dim"):
        layer(gw.randn(SRC, N, D + 2))


def test_batch_mismatch_names_batch_first(torch):
    model = nn.Transformer(D, HEADS, 1, 1, FF)
    with pytest.raises(RuntimeError, match="batch_first"):
        model(gw.randn(SRC, N, D), gw.randn(TGT, N + 1, D))
    decoder_layer = nn.TransformerDecoderLayer(D, HEADS, FF)  # batch_first=False
    with pytest.raises(RuntimeError, match="batch_first"):
        decoder_layer(gw.randn(N, TGT, D), gw.randn(N, SRC, D))  # given as (N, L, E)


def test_mask_shape_errors():
    layer = nn.TransformerEncoderLayer(D, HEADS, FF)
    with pytest.raises(RuntimeError, match="2D attn_mask"):
        layer(gw.randn(SRC, N, D), src_mask=gw.zeros(SRC, SRC + 1))
    with pytest.raises(AssertionError, match="key_padded_mask"):
        layer(gw.randn(SRC, N, D), src_key_padding_mask=gw.zeros(N + 1, SRC, dtype=gw.bool))


def test_unknown_activation(torch):
    with pytest.raises(RuntimeError, match="relu/gelu"):
        nn.TransformerEncoderLayer(D, HEADS, activation="tanh")
    with pytest.raises(RuntimeError):
        torch.nn.TransformerEncoderLayer(D, HEADS, activation="tanh")


def test_summary_of_transformer_and_encoder():
    model = nn.Transformer(D, HEADS, 1, 1, FF, batch_first=True)
    table = nn.summary(model, [(2, SRC, D), (2, TGT, D)])
    assert table.error is None
    assert table.total_parameters == sum(p.numel() for p in model.parameters())
    kinds = {row.kind for row in table.rows}
    assert {"MultiheadAttention", "Linear", "LayerNorm"} <= kinds
    attention_rows = [row for row in table.rows if row.kind == "MultiheadAttention"]
    assert len(attention_rows) == 3 and all(row.mult_adds > 0 for row in attention_rows)
    encoder = nn.TransformerEncoder(nn.TransformerEncoderLayer(D, HEADS, FF), 2)
    table = nn.summary(encoder, (SRC, 2, D))
    assert table.error is None and table.rows[-1].output_shape == (SRC, 2, D)
