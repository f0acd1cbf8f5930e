"""`gradwork.device`: where a tensor lives, spelled as torch spells it.

Example:
    >>> import gradwork as gw
    >>> gw.device("cuda:1")
    device(type='cuda', index=1)
    >>> str(gw.device("cpu")), gw.device("cpu").index
    ('cpu', None)
"""

from __future__ import annotations

from typing import Any

# torch's device types, in the order its error message lists them.
DEVICE_TYPES = ("cpu", "cuda", "ipu", "xpu", "mkldnn", "opengl", "opencl", "ideep", "hip",
                "ve", "fpga", "maia", "xla", "lazy", "vulkan", "mps", "meta", "hpu", "mtia",
                "privateuseone")  # fmt: skip


class device:  # noqa: N801 - torch's name
    """A device: a `type` ("cpu", "cuda", ...) and an optional `index`.

    Accepts what torch accepts: `device("cuda:0")`, `device("cuda", 0)`,
    `device(0)` (CUDA device 0), or another device. Equal devices compare equal
    and hash alike; as in torch, a device never equals a string.
    """

    __slots__ = ("_type", "_index")

    def __init__(self, type_or_string: Any, index: int | None = None) -> None:
        if isinstance(type_or_string, device):
            if index is not None:
                raise RuntimeError("device: pass a device or a type and an index, not both")
            self._type, self._index = type_or_string.type, type_or_string.index
            return
        if isinstance(type_or_string, int) and not isinstance(type_or_string, bool):
            type_or_string, index = "cuda", type_or_string
        if not isinstance(type_or_string, str):
            raise TypeError(
                f"device() received an invalid combination of arguments: got "
                f"{type(type_or_string).__name__}; expected a str like 'cpu' or 'cuda:0', or an int"
            )
        kind, parsed = _parse(type_or_string)
        if parsed is not None and index is not None:
            raise RuntimeError(
                "type (string) must not include an index because index was passed "
                f"explicitly: {type_or_string}"
            )
        index = parsed if index is None else index
        if index is not None and index < 0:
            raise RuntimeError(f"Device index must not be negative, got {index}")
        self._type, self._index = kind, index

    @property
    def type(self) -> str:
        return self._type

    @property
    def index(self) -> int | None:
        return self._index

    def __str__(self) -> str:
        return self._type if self._index is None else f"{self._type}:{self._index}"

    def __repr__(self) -> str:
        index = "" if self._index is None else f", index={self._index}"
        return f"device(type='{self._type}'{index})"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, device):
            return NotImplemented
        return (self._type, self._index) == (other._type, other._index)

    def __hash__(self) -> int:
        return hash((self._type, self._index))

    def __reduce__(self) -> tuple:
        return device, (self._type, self._index)


def _parse(text: str) -> tuple[str, int | None]:
    """'cuda:1' -> ('cuda', 1); errors worded as torch's."""
    kind, _, number = text.partition(":")
    if kind not in DEVICE_TYPES:
        raise RuntimeError(
            f"Expected one of {', '.join(DEVICE_TYPES)} device type at start of device "
            f"string: {text}"
        )
    if not _:
        return kind, None
    if not number.isdigit() or (len(number) > 1 and number[0] == "0"):
        raise RuntimeError(f"Invalid device string: '{text}'")
    return kind, int(number)


def check_placeable(where: Any) -> None:
    """Refuse a device this build cannot hold tensors on, as a CPU-only torch refuses it.

    None and the CPU pass. CUDA raises torch's AssertionError (until the CuPy
    backend lands, `gradwork.cuda.is_available()` is False); any other
    device type raises NotImplementedError.

    Example:
        >>> check_placeable("cpu")
        >>> check_placeable("cuda:0")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        AssertionError: gradwork not compiled with CUDA enabled: ...
    """
    if where is None:
        return
    kind = (where if isinstance(where, device) else device(where)).type
    if kind == "cpu":
        return
    if kind == "cuda":
        raise AssertionError(
            "gradwork not compiled with CUDA enabled: this build runs on the CPU only "
            '(gradwork.cuda.is_available() is False); use device="cpu"'
        )
    raise NotImplementedError(
        f'gradwork has no {kind!r} backend: tensors live on the CPU; use device="cpu"'
    )
