"""Input checks and mask handling shared by MultiheadAttention and the Transformer layers.

torch's conventions: in these modules a bool mask is True where a position is
NOT allowed to attend (the opposite of scaled_dot_product_attention's), and
every mask becomes an additive float mask (0 or -inf) before use.
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np

from gradwork.nn._placement import as_array
from gradwork.tensor import Tensor


def canonical_mask(mask: Any, name: str, dtype: Any, other: Any = None,
                   other_name: str = "") -> Tensor | None:  # fmt: skip
    """None, or the mask as a float Tensor of `dtype` (bool True -> -inf, False -> 0)."""
    if mask is None:
        return None
    mask_dtype = np.dtype(mask.dtype)
    if mask_dtype != np.bool_ and mask_dtype.kind != "f":
        raise AssertionError(
            f"only bool and floating types of {name} are supported, got {mask_dtype}: "
            f"pass a bool mask (True = masked out) or an additive float mask"
        )
    if other is not None and np.dtype(other.dtype) != mask_dtype:
        warnings.warn(
            f"Support for mismatched {name} and {other_name} is deprecated. Use same type for "
            "both instead.",
            UserWarning,
            stacklevel=3,
        )
    if mask_dtype == np.bool_:
        array = as_array(mask)  # a GPU mask stays on the GPU; NumPy scalars go anywhere
        scalar = np.dtype(dtype).type
        return Tensor(np.where(array, scalar(-np.inf), scalar(0)))
    return mask if isinstance(mask, Tensor) else Tensor(as_array(mask))


def check_shapes(module: Any, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Any,
                 attn_mask: Any) -> bool:  # fmt: skip
    """torch's MultiheadAttention checks (its exception types); True when the input is batched."""
    batched = query.ndim == 3
    if query.ndim not in (2, 3):
        raise AssertionError(
            "query should be unbatched 2D or batched 3D tensor but received "
            f"{query.ndim}-D query tensor"
        )
    kind = "batched (3-D)" if batched else "unbatched (2-D)"
    if key.ndim != query.ndim or value.ndim != query.ndim:
        raise AssertionError(
            f"For {kind} `query`, expected `key` and `value` to be {query.ndim}-D but found "
            f"{key.ndim}-D and {value.ndim}-D tensors respectively"
        )
    if key_padding_mask is not None and key_padding_mask.ndim != query.ndim - 1:
        raise AssertionError(
            f"For {kind} `query`, expected `key_padding_mask` to be `None` or "
            f"{query.ndim - 1}-D but found {key_padding_mask.ndim}-D tensor instead"
        )
    if attn_mask is not None and attn_mask.ndim not in (2, 3):
        raise AssertionError(
            f"For {kind} `query`, expected `attn_mask` to be `None`, 2-D or 3-D but found "
            f"{attn_mask.ndim}-D tensor instead"
        )
    _check_features(module, query, key, value)
    sizes = _check_batch(module, query, key, value, batched)
    _check_mask_shapes(module, sizes, key_padding_mask, attn_mask, batched)
    return batched


def _layout(module: Any, batched: bool) -> str:
    if not batched:
        return "(L, E)"
    return "(N, L, E) since batch_first=True" if module.batch_first else "(L, N, E) since " \
        "batch_first=False"  # fmt: skip


def _check_features(module: Any, query: Tensor, key: Tensor, value: Tensor) -> None:
    if query.shape[-1] != module.embed_dim:
        raise AssertionError(
            f"was expecting embedding dimension of {module.embed_dim}, but got "
            f"{query.shape[-1]} (query shape {tuple(query.shape)}): query should be "
            f"{_layout(module, query.ndim == 3)}; set embed_dim={query.shape[-1]} or fix the layout"
        )
    if module._qkv_same_embed_dim and key.shape != value.shape:
        raise AssertionError(
            f"key shape {tuple(key.shape)} does not match value shape {tuple(value.shape)}: "
            "give key and value the same shape, or set kdim/vdim for different feature sizes"
        )
    if key.shape[:-1] != value.shape[:-1]:
        raise AssertionError(
            f"key's sequence and batch dims {tuple(key.shape[:-1])} do not match value's "
            f"{tuple(value.shape[:-1])}"
        )
    for name, x, size in (("key", key, module.kdim), ("value", value, module.vdim)):
        if x.shape[-1] != size:
            error = RuntimeError if module._qkv_same_embed_dim else AssertionError
            raise error(
                f"MultiheadAttention: {name} has {x.shape[-1]} features (shape "
                f"{tuple(x.shape)}) but the layer expects {name[0]}dim={size}: set "
                f"{name[0]}dim={x.shape[-1]} or project the {name} first"
            )


def _check_batch(module: Any, query: Tensor, key: Tensor, value: Tensor, batched: bool):
    """(batch size, target length, source length), after checking query and key agree."""
    if not batched:
        return 1, query.shape[0], key.shape[0]
    axis = 0 if module.batch_first else 1
    if query.shape[axis] != key.shape[axis]:
        raise RuntimeError(
            f"MultiheadAttention: query and key have batch sizes {query.shape[axis]} and "
            f"{key.shape[axis]} (shapes {tuple(query.shape)} and {tuple(key.shape)}); inputs "
            f"should be {_layout(module, True)}: check batch_first or transpose(0, 1) the inputs"
        )
    return query.shape[axis], query.shape[1 - axis], key.shape[1 - axis]


def _check_mask_shapes(module: Any, sizes: tuple, key_padding_mask: Any, attn_mask: Any,
                       batched: bool) -> None:  # fmt: skip
    batch, target, source = sizes
    if key_padding_mask is not None:
        expected = (batch, source) if batched else (source,)
        for axis, size in enumerate(expected):
            if key_padding_mask.shape[axis] != size:
                raise AssertionError(
                    f"Expected key_padded_mask.shape[{axis}] to be {size}, but got "
                    f"{key_padding_mask.shape[axis]}: key_padding_mask should be "
                    f"{'(N, S)' if batched else '(S,)'} = {expected}, True where a key is padding"
                )
    if attn_mask is None:
        return
    heads = module.num_heads
    if attn_mask.ndim == 2 and tuple(attn_mask.shape) != (target, source):
        raise RuntimeError(
            f"The shape of the 2D attn_mask is {tuple(attn_mask.shape)}, but should be "
            f"{(target, source)} (L, S)."
        )
    if attn_mask.ndim == 3 and not batched and tuple(attn_mask.shape) != (heads, target, source):
        raise AssertionError(
            f"Expected `attn_mask` shape to be {(heads, target, source)} but got "
            f"{tuple(attn_mask.shape)}"
        )
    if attn_mask.ndim == 3 and tuple(attn_mask.shape) != (batch * heads, target, source):
        raise RuntimeError(
            f"The shape of the 3D attn_mask is {tuple(attn_mask.shape)}, but should be "
            f"{(batch * heads, target, source)} (N * num_heads, L, S)."
        )


def merge_masks(module: Any, sizes: tuple, attn_mask: Any, key_padding_mask: Any) -> Any:
    """One additive mask broadcastable to the scores (N, H, L, S), or None.

    `sizes` is (N, L, S), S counting any bias_k / zero-attention keys.
    """
    batch, target, source = sizes
    if attn_mask is not None and attn_mask.ndim == 3:
        attn_mask = attn_mask.reshape(batch, module.num_heads, target, source)
    if key_padding_mask is not None:
        key_padding_mask = key_padding_mask.reshape(batch, 1, 1, source)
        return key_padding_mask if attn_mask is None else attn_mask + key_padding_mask
    return attn_mask
