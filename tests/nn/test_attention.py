"""scaled_dot_product_attention and MultiheadAttention: torch parity, gradcheck, errors.

Parity runs in float64 (to 1e-10) and float32 (to 1e-5): values, and the
gradients of every input, float mask and parameter under the same random
projection of the output. Module parity loads torch's own state_dict unchanged.
"""

import warnings

import numpy as np
import pytest

import gradwork as gw
import gradwork.nn.functional as F
from gradwork import nn, ops
from gradwork.diagnose import gradcheck
from gradwork.ops import attention as attention_ops
from tests.helpers import to_numpy

RNG_SEED = 7


def _rng():
    return np.random.default_rng(RNG_SEED)


def _bool_mask(shape, seed=1):
    mask = np.random.default_rng(seed).random(shape) > 0.3
    mask[..., 0] = True  # SDPA's bool: True takes part; keep every row alive
    return mask


def _fully_masked(shape):
    mask = _bool_mask(shape)
    mask[..., 1, :] = False  # one row sees nothing
    return mask


# name: (query, key, value shapes, keyword arguments, mask kind)
SDPA_CASES = {
    "plain_4d": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {}, None),
    "unbatched_2d": ((4, 5), (6, 5), (6, 7), {}, None),
    "three_batch_dims": ((2, 2, 2, 3, 4), (2, 2, 2, 5, 4), (2, 2, 2, 5, 4), {}, None),
    "batch_broadcast": ((2, 1, 4, 5), (3, 6, 5), (1, 6, 7), {}, None),
    "causal_square": ((2, 3, 5, 4), (2, 3, 5, 4), (2, 3, 5, 4), {"is_causal": True}, None),
    "causal_more_queries": ((2, 6, 4), (2, 3, 4), (2, 3, 4), {"is_causal": True}, None),
    "causal_more_keys": ((2, 3, 4), (2, 6, 4), (2, 6, 4), {"is_causal": True}, None),
    "bool_mask_2d": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {}, ("bool", (4, 6))),
    "bool_mask_broadcast": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {}, ("bool", (2, 1, 1, 6))),
    "bool_mask_fully_masked_row": ((2, 4, 5), (2, 6, 5), (2, 6, 7), {}, ("dead", (2, 4, 6))),
    "float_mask": ((2, 3, 4, 5), (2, 3, 6, 5), (2, 3, 6, 7), {}, ("float", (3, 4, 6))),
    "float_mask_minus_inf_row": ((2, 4, 5), (2, 6, 5), (2, 6, 7), {}, ("float_dead", (4, 6))),
    "scale": ((2, 4, 5), (2, 6, 5), (2, 6, 7), {"scale": 0.3}, None),
    "gqa": ((2, 6, 4, 5), (2, 2, 6, 5), (2, 3, 6, 7), {"enable_gqa": True}, None),
    "gqa_causal": ((1, 4, 5, 3), (1, 2, 5, 3), (1, 2, 5, 3), {"enable_gqa": True,
                                                             "is_causal": True}, None),
}  # fmt: skip


def _sdpa_inputs(case, dtype):
    q_shape, k_shape, v_shape, kwargs, mask_kind = SDPA_CASES[case]
    rng = _rng()
    arrays = [rng.standard_normal(s).astype(dtype) for s in (q_shape, k_shape, v_shape)]
    tensors = [gw.tensor(a, requires_grad=True) for a in arrays]
    mask = None
    if mask_kind is not None:
        kind, shape = mask_kind
        if kind == "bool":
            mask = gw.tensor(_bool_mask(shape))
        elif kind == "dead":
            mask = gw.tensor(_fully_masked(shape))
        else:
            values = rng.standard_normal(shape).astype(dtype)
            if kind == "float_dead":
                values[1] = -np.inf
            mask = gw.tensor(values, requires_grad=kind == "float")
    return tensors, mask, kwargs


def _to_torch(torch, tensor):
    if tensor is None:
        return None
    out = torch.tensor(np.array(to_numpy(tensor)))
    return out.requires_grad_(True) if tensor.requires_grad else out


def _compare(ours, theirs, atol, rtol, what):
    np.testing.assert_allclose(to_numpy(ours), to_numpy(theirs), atol=atol, rtol=rtol, err_msg=what)


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", SDPA_CASES)
def test_sdpa_matches_torch(case, dtype, tol, torch):
    (q, k, v), mask, kwargs = _sdpa_inputs(case, dtype)
    tq, tk, tv, tmask = (_to_torch(torch, x) for x in (q, k, v, mask))
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, **kwargs)
    expected = torch.nn.functional.scaled_dot_product_attention(tq, tk, tv, attn_mask=tmask,
                                                                **kwargs)  # fmt: skip
    _compare(out.array, to_numpy(expected), tol, tol, "output")
    assert out.dtype == dtype and out.shape == tuple(expected.shape)
    projection = _rng().standard_normal(out.shape).astype(dtype)
    (out * gw.tensor(projection)).sum().backward()
    (expected * torch.tensor(projection)).sum().backward()
    pairs = [("query", q, tq), ("key", k, tk), ("value", v, tv)]
    if mask is not None and mask.requires_grad:
        pairs.append(("attn_mask", mask, tmask))
    for name, ours, theirs in pairs:
        _compare(ours.grad.array, to_numpy(theirs.grad), tol, tol, f"gradient of {name}")


def test_sdpa_without_keys_or_queries_matches_torch(torch):
    for q_len, k_len in ((3, 0), (0, 5)):
        q, k, v = (gw.randn(2, n, 4, dtype=gw.float64) for n in (q_len, k_len, k_len))
        out = F.scaled_dot_product_attention(q, k, v)
        expected = torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(np.asarray(to_numpy(x))) for x in (q, k, v))
        )
        assert out.shape == tuple(expected.shape)
        np.testing.assert_array_equal(to_numpy(out), to_numpy(expected))


def test_sdpa_fully_masked_row_gives_zeros_and_no_nan():
    (q, k, v), mask, _ = _sdpa_inputs("bool_mask_fully_masked_row", np.float64)
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    out.sum().backward()
    assert np.all(out.array[:, 1] == 0) and np.isfinite(out.array).all()
    assert np.all(q.grad.array[:, 1] == 0) and np.isfinite(k.grad.array).all()


@pytest.mark.parametrize(
    "case", ["plain_4d", "causal_more_queries", "bool_mask_fully_masked_row", "float_mask", "gqa"]
)
def test_sdpa_gradcheck(case):
    (q, k, v), mask, kwargs = _sdpa_inputs(case, np.float64)
    if mask is not None and not mask.requires_grad:
        gradcheck(lambda a, b, c: F.scaled_dot_product_attention(a, b, c, mask, **kwargs),
                  [q, k, v])  # fmt: skip
    else:
        gradcheck(lambda a, b, c, m: F.scaled_dot_product_attention(a, b, c, m, **kwargs),
                  [q, k, v, mask])  # fmt: skip


def test_sdpa_is_one_graph_node():
    (q, k, v), _, _ = _sdpa_inputs("plain_4d", np.float64)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    assert isinstance(out.grad_fn, ops.ScaledDotProductAttention)
    assert list(out.grad_fn.parents) == [None, None, None, None]  # q, k, v are leaves


def test_packed_self_attention_equals_separate_inputs():
    """The op's packed form (q, k, v stacked, MultiheadAttention's) is the same function."""
    rng = np.random.default_rng(3)
    stack = gw.tensor(rng.standard_normal((3, 2, 2, 4, 5)), requires_grad=True)
    mask = gw.tensor(rng.standard_normal((4, 4)), requires_grad=True)
    packed = ops.ScaledDotProductAttention.apply(stack, None, None, mask, scale=0.4)
    q, k, v = (gw.tensor(stack.array[i], requires_grad=True) for i in range(3))
    separate = ops.ScaledDotProductAttention.apply(q, k, v, mask.detach(), scale=0.4)
    np.testing.assert_allclose(to_numpy(packed), to_numpy(separate), atol=1e-14)
    projection = gw.tensor(rng.standard_normal(packed.shape))
    (packed * projection).sum().backward()
    (separate * projection).sum().backward()
    expected = np.stack([q.grad.array, k.grad.array, v.grad.array])
    np.testing.assert_allclose(to_numpy(stack.grad), to_numpy(expected), atol=1e-14)
    gradcheck(lambda s, m: ops.ScaledDotProductAttention.apply(s, None, None, m, scale=0.4,
                                                               is_causal=False),
              [stack, mask])  # fmt: skip


def test_every_attention_primitive_is_listed_and_tested():
    classes = [value for value in vars(attention_ops).values() if isinstance(value, type)]
    defined = {cls for cls in classes if issubclass(cls, gw.Function) and cls is not gw.Function}
    assert defined == {ops.ScaledDotProductAttention}
    assert defined <= set(ops.PRIMITIVES)


# -- dropout on the weights: gradwork's stream, so checked by statistics and seeds --
def _uniform_attention(p, rows=400, keys=50):
    """Equal scores, value = identity: each output row IS the (dropped) weight row."""
    q = gw.zeros(rows, 3, dtype=gw.float64)
    k = gw.zeros(keys, 3, dtype=gw.float64)
    v = gw.tensor(np.eye(keys), requires_grad=True)
    return F.scaled_dot_product_attention(q, k, v, dropout_p=p), v


def test_sdpa_dropout_statistics():
    gw.manual_seed(0)
    out, _ = _uniform_attention(0.3)
    values = out.array
    assert abs((values == 0).mean() - 0.3) < 0.01
    kept = values[values != 0]
    np.testing.assert_allclose(to_numpy(kept), 1 / 50 / 0.7, rtol=1e-6)  # inverted dropout scaling
    assert abs(values.sum(axis=1).mean() - 1.0) < 0.01  # the expectation is unchanged


def test_sdpa_dropout_is_seeded_and_backward_uses_the_same_mask():
    gw.manual_seed(3)
    first, v = _uniform_attention(0.5)
    gw.manual_seed(3)
    second, _ = _uniform_attention(0.5)
    np.testing.assert_array_equal(to_numpy(first), to_numpy(second))
    projection = np.random.default_rng(0).standard_normal(first.shape)
    (first * gw.tensor(projection)).sum().backward()
    # out = dropped_weights @ v, so d/dv = dropped_weights^T @ projection
    np.testing.assert_allclose(to_numpy(v.grad), to_numpy(first).T @ projection, atol=1e-12)
    gw.manual_seed(4)
    third, _ = _uniform_attention(0.5)
    assert not np.array_equal(to_numpy(first), to_numpy(third))


def test_sdpa_dropout_one_drops_everything():
    out, _ = _uniform_attention(1.0, rows=4, keys=5)
    assert np.all(out.array == 0)


# -- errors: torch's exception class, and a message that names the fix --------------
def _sdpa_error_cases():
    def t(*shape, dtype=np.float32):
        return np.zeros(shape, dtype=dtype)

    return {
        "query_1d": ((t(4), t(5, 4), t(5, 7)), {}, RuntimeError, "at least 2"),
        "feature_mismatch": ((t(3, 4), t(5, 3), t(5, 7)), {}, RuntimeError, "last dimension"),
        "length_mismatch": ((t(3, 4), t(5, 4), t(6, 7)), {}, RuntimeError, "sequence length"),
        "dtype_mismatch": ((t(2, 3, 4), t(2, 5, 4, dtype=np.float64), t(2, 5, 7)), {},
                           RuntimeError, "same dtype"),
        "int_mask": ((t(2, 3, 4), t(2, 5, 4), t(2, 5, 7)), {"attn_mask": np.ones((3, 5), int)},
                     RuntimeError, "bool or float"),
        "mask_too_big": ((t(2, 3, 4), t(2, 5, 4), t(2, 5, 7)),
                         {"attn_mask": np.ones((3, 2, 3, 5), bool)}, RuntimeError, "broadcast"),
        "mask_wrong_length": ((t(2, 3, 4), t(2, 5, 4), t(2, 5, 7)),
                              {"attn_mask": np.ones((3, 4), bool)}, RuntimeError, "broadcast"),
        "mask_and_causal": ((t(2, 3, 4), t(2, 5, 4), t(2, 5, 7)),
                            {"attn_mask": np.ones((3, 5), bool), "is_causal": True},
                            RuntimeError, "is_causal"),
        "dropout_above_one": ((t(2, 3, 4), t(2, 5, 4), t(2, 5, 7)), {"dropout_p": 1.5},
                              RuntimeError, "between 0 and 1"),
        "gqa_heads_do_not_divide": ((t(2, 6, 3, 4), t(2, 4, 5, 4), t(2, 4, 5, 4)),
                                    {"enable_gqa": True}, RuntimeError, "divide"),
        "gqa_without_heads": ((t(3, 4), t(5, 4), t(5, 4)), {"enable_gqa": True}, IndexError,
                              "range"),
        "heads_differ_without_gqa": ((t(2, 6, 3, 4), t(2, 4, 5, 4), t(2, 4, 5, 4)), {},
                                     RuntimeError, "broadcast"),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_sdpa_error_cases()))
def test_sdpa_errors_match_torch(case, torch):
    arrays, kwargs, error, words = _sdpa_error_cases()[case]
    with pytest.raises(error, match=words):
        F.scaled_dot_product_attention(*(gw.tensor(a) for a in arrays),
                                       **{k: gw.tensor(v) if isinstance(v, np.ndarray) else v
                                          for k, v in kwargs.items()})  # fmt: skip
    with pytest.raises(error):
        torch.nn.functional.scaled_dot_product_attention(
            *(torch.tensor(a) for a in arrays),
            **{k: torch.tensor(v) if isinstance(v, np.ndarray) else v for k, v in kwargs.items()},
        )


def test_sdpa_scale_and_gqa_are_keyword_only():
    q = gw.randn(2, 3, 4)
    with pytest.raises(TypeError):
        F.scaled_dot_product_attention(q, q, q, None, 0.0, False, 1.0)


# -- MultiheadAttention -----------------------------------------------------------
E, H, L, S, N = 8, 2, 4, 5, 3

# name: (constructor arguments, forward arguments, self-attention?)
MHA_CASES = {
    "default": ({}, {}, False),
    "self_attention": ({}, {}, True),
    "self_attention_batch_first": ({"batch_first": True}, {}, True),
    "batch_first": ({"batch_first": True}, {}, False),
    "kdim_vdim": ({"kdim": 3, "vdim": 6}, {}, False),
    "kdim_vdim_batch_first": ({"kdim": 3, "vdim": 6, "batch_first": True}, {}, False),
    "no_bias": ({"bias": False}, {}, True),
    "bias_kv_zero_attn": ({"add_bias_kv": True, "add_zero_attn": True}, {}, False),
    "bias_kv_masks": ({"add_bias_kv": True}, {"attn_mask": "bool2d", "key_padding_mask": "bool"},
                      False),
    "zero_attn_masks_no_weights": ({"add_zero_attn": True},
                                   {"attn_mask": "float3d", "key_padding_mask": "float",
                                    "need_weights": False}, False),
    "key_padding_bool": ({}, {"key_padding_mask": "bool"}, False),
    "key_padding_float": ({"batch_first": True}, {"key_padding_mask": "float"}, True),
    "key_padding_no_weights": ({"batch_first": True},
                               {"key_padding_mask": "bool", "need_weights": False}, True),
    "attn_mask_bool": ({}, {"attn_mask": "bool2d"}, True),
    "attn_mask_float_3d": ({}, {"attn_mask": "float3d"}, False),
    "attn_mask_float_no_weights": ({}, {"attn_mask": "float2d", "need_weights": False}, True),
    "weights_per_head": ({}, {"average_attn_weights": False, "attn_mask": "bool2d"}, False),
    "no_weights": ({}, {"need_weights": False}, False),
    "causal_hint": ({"batch_first": True}, {"attn_mask": "causal", "is_causal": True,
                                            "need_weights": False}, True),
    "causal_hint_with_weights": ({}, {"attn_mask": "causal", "is_causal": True}, True),
    "unbatched": ({}, {"unbatched": True}, False),
    "unbatched_masks": ({}, {"unbatched": True, "key_padding_mask": "bool",
                             "attn_mask": "float3d"}, False),
    "unbatched_kdim": ({"kdim": 3, "vdim": 6}, {"unbatched": True, "need_weights": False},
                       False),
}  # fmt: skip


def _mha_mask(kind, unbatched, length=L):
    rng = np.random.default_rng(5)
    batch = 1 if unbatched else N
    if kind == "bool":
        mask = rng.random((batch, S)) > 0.7
        mask[:, 0] = False  # MHA's bool: True is masked out; keep one key per row
        return mask[0] if unbatched else mask
    if kind == "float":
        mask = rng.standard_normal((batch, S))
        return mask[0] if unbatched else mask
    if kind == "bool2d":
        mask = rng.random((length, S)) > 0.7
        mask[:, 0] = False
        return mask
    if kind == "float2d":
        return rng.standard_normal((length, S))
    if kind == "float3d":
        return rng.standard_normal((batch * H, length, S))
    if kind == "causal":
        return np.triu(np.full((length, length), -np.inf), k=1)
    raise ValueError(kind)


def make_mha_pair(torch, kwargs, dtype):
    theirs = torch.nn.MultiheadAttention(E, H, **kwargs).to(getattr(torch, np.dtype(dtype).name))
    with torch.no_grad():  # non-zero biases, so their gradients mean something
        for parameter in theirs.parameters():
            parameter.add_(0.1 * torch.randn_like(parameter))
    ours = nn.MultiheadAttention(E, H, **kwargs).to(dtype)
    ours.load_state_dict(theirs.state_dict())
    return ours, theirs


def _mha_inputs(kwargs, forward, self_attention, dtype):
    unbatched = forward.get("unbatched", False)
    length = S if self_attention else L

    def shape(steps, features):
        if unbatched:
            return (steps, features)
        return (N, steps, features) if kwargs.get("batch_first") else (steps, N, features)

    rng = _rng()
    query = rng.standard_normal(shape(length, E)).astype(dtype)
    if self_attention:
        return [query], length
    key = rng.standard_normal(shape(S, kwargs.get("kdim", E))).astype(dtype)
    value = rng.standard_normal(shape(S, kwargs.get("vdim", E))).astype(dtype)
    return [query, key, value], length


def _run_mha(lib, module, arrays, forward, length):
    leaves = [lib.tensor(a, requires_grad=True) for a in arrays]
    inputs = leaves * 3 if len(leaves) == 1 else leaves
    options = {k: v for k, v in forward.items() if k != "unbatched"}
    for name in ("attn_mask", "key_padding_mask"):
        if name in options:
            mask = _mha_mask(options[name], forward.get("unbatched", False), length)
            if mask.dtype != bool:
                mask = mask.astype(arrays[0].dtype)
            options[name] = lib.tensor(mask)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # torch's "mismatched masks are deprecated"
        output, weights = module(*inputs, **options)
    return leaves, output, weights


@pytest.mark.parametrize("dtype, tol", [(np.float64, 1e-10), (np.float32, 1e-5)])
@pytest.mark.parametrize("case", MHA_CASES)
def test_multihead_attention_matches_torch(case, dtype, tol, torch):
    kwargs, forward, self_attention = MHA_CASES[case]
    ours, theirs = make_mha_pair(torch, kwargs, dtype)
    arrays, length = _mha_inputs(kwargs, forward, self_attention, dtype)
    our_leaves, out, weights = _run_mha(gw, ours, arrays, forward, length)
    their_leaves, expected, expected_weights = _run_mha(torch, theirs, arrays, forward, length)
    _compare(out.array, to_numpy(expected), tol, tol, "output")
    assert (weights is None) == (expected_weights is None)
    rng = _rng()
    loss_ours = (out * gw.tensor(projection := rng.standard_normal(out.shape))).sum()
    loss_theirs = (expected * torch.tensor(projection)).sum()
    if weights is not None:
        _compare(weights.array, to_numpy(expected_weights), tol, tol, "weights")
        projection = rng.standard_normal(weights.shape)
        loss_ours = loss_ours + (weights * gw.tensor(projection)).sum()
        loss_theirs = loss_theirs + (expected_weights * torch.tensor(projection)).sum()
    loss_ours.backward()
    loss_theirs.backward()
    for i, (a, b) in enumerate(zip(our_leaves, their_leaves, strict=True)):
        _compare(a.grad.array, to_numpy(b.grad), tol, tol, f"gradient of input {i}")
    our_parameters = dict(ours.named_parameters())
    assert set(our_parameters) == {name for name, _ in theirs.named_parameters()}
    for name, parameter in theirs.named_parameters():
        _compare(our_parameters[name].grad.array, to_numpy(parameter.grad), tol, tol, name)


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_mha_fully_masked_query_row_matches_torch(torch):
    """No key left for a whole batch element: need_weights=False gives SDPA's zeros
    (plus out_proj's bias); the explicit-weights path gives NaN, in torch as here."""
    ours, theirs = make_mha_pair(torch, {"batch_first": True}, np.float64)
    x = _rng().standard_normal((N, S, E))
    padding = np.zeros((N, S), bool)
    padding[1] = True
    for need_weights in (False, True):
        out = ours(*[gw.tensor(x)] * 3, key_padding_mask=gw.tensor(padding),
                   need_weights=need_weights)[0]  # fmt: skip
        with torch.no_grad():
            expected = theirs(*[torch.tensor(x)] * 3, key_padding_mask=torch.tensor(padding),
                              need_weights=need_weights)[0]  # fmt: skip
        np.testing.assert_allclose(to_numpy(out), to_numpy(expected), atol=1e-10, equal_nan=True)
    assert np.isnan(out.array[1]).all()  # with weights: NaN, as torch's math path


def test_mha_state_dict_keys_shapes_and_init(torch):
    for kwargs in ({}, {"kdim": 3, "vdim": 6, "add_bias_kv": True}, {"bias": False}):
        theirs = torch.nn.MultiheadAttention(E, H, **kwargs)
        ours = nn.MultiheadAttention(E, H, **kwargs)
        mine = ours.state_dict()
        assert list(mine) == list(theirs.state_dict())
        for name, value in theirs.state_dict().items():
            assert tuple(mine[name].shape) == tuple(value.shape), name
    big = nn.MultiheadAttention(64, 4)
    bound = np.sqrt(6 / (64 + 3 * 64))  # xavier_uniform_ on the packed (3E, E) weight
    weight = big.in_proj_weight.array
    assert np.abs(weight).max() <= bound and np.abs(weight).max() > 0.9 * bound
    assert np.all(big.in_proj_bias.array == 0) and np.all(big.out_proj.bias.array == 0)
    assert big.bias_k is None and big.bias_v is None


def test_mha_repr_matches_torch(torch):
    for kwargs in ({}, {"kdim": 3, "vdim": 6, "bias": False}):
        assert repr(nn.MultiheadAttention(E, H, **kwargs)) == repr(
            torch.nn.MultiheadAttention(E, H, **kwargs)
        )


def test_mha_self_attention_uses_one_input_projection():
    attention = nn.MultiheadAttention(E, H, batch_first=True)
    x = gw.randn(N, S, E, requires_grad=True)
    out, _ = attention(x, x, x, need_weights=False)
    nodes = []
    stack, seen = [out.grad_fn], set()
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen:
            continue
        seen.add(id(node))
        nodes.append(node)
        stack.extend(node.parents)
    kinds = [type(node).__name__ for node in nodes]
    assert kinds.count("Linear") == 2  # the packed q/k/v projection and out_proj
    assert kinds.count("ScaledDotProductAttention") == 1
    assert "GetItem" not in kinds  # q, k, v reach the attention node stacked, unsplit
    assert len(nodes) <= 7  # linear, reshape, permute, attention, permute, reshape, linear


class _FirstOutput(nn.Module):
    """MultiheadAttention with its output only, so gradcheck covers its parameters too."""

    def __init__(self, **kwargs):
        super().__init__()
        self.attention = nn.MultiheadAttention(4, 2, **kwargs)

    def forward(self, query, key, value):
        output, weights = self.attention(query, key, value)
        # weights rows sum to 1, so square them for a gradient; (N, L) -> (L, N)
        return output.sum(-1) + (weights * weights).sum(-1).transpose(0, 1)


@pytest.mark.parametrize("kwargs", [{}, {"kdim": 3, "vdim": 2, "add_bias_kv": True}])
def test_mha_gradcheck_inputs_and_parameters(kwargs):
    module = _FirstOutput(**kwargs)
    rng = np.random.default_rng(0)
    inputs = [gw.tensor(rng.standard_normal(shape), requires_grad=True)
              for shape in ((3, 2, 4), (5, 2, kwargs.get("kdim", 4)),
                            (5, 2, kwargs.get("vdim", 4)))]  # fmt: skip
    report = gradcheck(module, inputs, atol=1e-6, rtol=1e-4)
    checked = [check.name for check in report.inputs]
    assert len([n for n in checked if n.startswith("parameter")]) == len(list(module.parameters()))


def test_mha_dropout_only_in_training():
    gw.manual_seed(0)
    attention = nn.MultiheadAttention(E, H, dropout=0.5)
    x = gw.randn(S, N, E)
    first = attention(x, x, x)[0].array
    second = attention(x, x, x)[0].array
    assert not np.allclose(first, second)
    attention.eval()
    np.testing.assert_array_equal(to_numpy(attention(x, x, x)[0]), to_numpy(attention(x, x, x)[0]))


# -- MultiheadAttention errors -----------------------------------------------------
def _mha_error_cases():
    def z(*shape, dtype=np.float32):
        return gw.tensor(np.zeros(shape, dtype=dtype))

    q, k = z(L, N, E), z(S, N, E)
    return {
        "query_4d": ({}, (z(1, L, N, E), k, k), {}, AssertionError, "2D or batched 3D"),
        "key_2d_for_3d_query": ({}, (q, z(S, E), z(S, E)), {}, AssertionError, "3-D"),
        "query_features": ({}, (z(L, N, 6), k, k), {}, AssertionError, "embed_dim"),
        "batch_first_mix_up": ({}, (z(N, L, E), z(N, S, E), z(N, S, E)), {}, RuntimeError,
                               "batch_first"),
        "key_value_shapes": ({}, (q, k, z(S + 1, N, E)), {}, AssertionError, "value shape"),
        "key_features_packed": ({}, (q, z(S, N, 3), z(S, N, 3)), {}, RuntimeError, "kdim"),
        "key_features_separate": ({"kdim": 3, "vdim": 3}, (q, z(S, N, 4), z(S, N, 3)), {},
                                  AssertionError, "kdim"),
        "padding_mask_batch": ({}, (q, k, k), {"key_padding_mask": z(N + 1, S, dtype=bool)},
                               AssertionError, "key_padded_mask.shape\\[0\\]"),
        "padding_mask_length": ({}, (q, k, k), {"key_padding_mask": z(N, S + 1, dtype=bool)},
                                AssertionError, "key_padded_mask.shape\\[1\\]"),
        "padding_mask_dims": ({}, (q, k, k), {"key_padding_mask": z(S, dtype=bool)},
                              AssertionError, "2-D"),
        "attn_mask_2d_shape": ({}, (q, k, k), {"attn_mask": z(L, S + 1)}, RuntimeError,
                               "2D attn_mask"),
        "attn_mask_3d_shape": ({}, (q, k, k), {"attn_mask": z(N, L, S)}, RuntimeError,
                               "3D attn_mask"),
        "attn_mask_4d": ({}, (q, k, k), {"attn_mask": z(1, 1, L, S)}, AssertionError, "2-D or 3-D"),
        "attn_mask_int": ({}, (q, k, k), {"attn_mask": z(L, S, dtype=np.int64)}, AssertionError,
                          "bool and floating"),
        "causal_without_mask": ({}, (q, k, k), {"is_causal": True}, RuntimeError,
                                "generate_square_subsequent_mask"),
    }  # fmt: skip


@pytest.mark.parametrize("case", list(_mha_error_cases()))
def test_mha_errors_match_torch(case, torch):
    kwargs, inputs, forward, error, words = _mha_error_cases()[case]
    with pytest.raises(error, match=words):
        nn.MultiheadAttention(E, H, **kwargs)(*inputs, **forward)
    with pytest.raises(error):
        torch.nn.MultiheadAttention(E, H, **kwargs)(
            *(torch.tensor(np.asarray(to_numpy(x))) for x in inputs),
            **{k: torch.tensor(np.asarray(to_numpy(v))) if hasattr(v, "array") else v
               for k, v in forward.items()},
        )  # fmt: skip


def test_mha_constructor_errors():
    with pytest.raises(AssertionError, match="divisible by num_heads"):
        nn.MultiheadAttention(10, 3)
    with pytest.raises(ValueError, match="greater than 0"):
        nn.MultiheadAttention(0, 2)


def test_summary_of_multihead_attention():
    table = nn.summary(nn.Sequential(nn.Linear(E, E)), (2, E))  # the plain form still works
    assert table.total_parameters == E * E + E
    attention = nn.MultiheadAttention(E, H, batch_first=True)
    table = nn.summary(attention, [(2, S, E)] * 3)
    assert table.error is None and table.total_parameters == 4 * E * E + 4 * E
    assert table.input_shape == ((2, S, E),) * 3
