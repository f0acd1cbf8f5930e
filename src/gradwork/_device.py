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

    def __enter__(self) -> device:
        """`with gw.device("cuda"):` makes factories default to this device, as in torch."""
        _default_stack.append(check_placeable(self))
        return self

    def __exit__(self, *exc: Any) -> None:
        _default_stack.pop()


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


def check_placeable(where: Any) -> device | None:
    """The device `where` names, refused when this build cannot hold tensors there.

    None (the default device) and the CPU pass. CUDA passes when a backend is
    there (CuPy with a GPU, or the CPU stand-in); without one it raises torch's
    AssertionError with the way to install CuPy, and an index past the last
    device raises torch's RuntimeError. Any other device type raises
    NotImplementedError. Returns the device (None when `where` is None).

    Example:
        >>> check_placeable("cpu")
        device(type='cpu')
        >>> check_placeable("mps")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        NotImplementedError: gradwork has no 'mps' backend: ...
    """
    if where is None:
        return None
    target = where if isinstance(where, device) else device(where)
    if target.type == "cpu":
        return target
    if target.type == "cuda":
        from gradwork import _arrays  # noqa: PLC0415 - _arrays imports this module

        count = _arrays.device_count()
        if count == 0:
            raise AssertionError(
                "gradwork not compiled with CUDA enabled: no CUDA backend "
                f"(gradwork.cuda.is_available() is False); {_arrays.INSTALL_HINT}; "
                'or use device="cpu"'
            )
        if (target.index or 0) >= count:
            raise RuntimeError(
                f"CUDA error: invalid device ordinal: cuda:{target.index} asked for, "
                f"gradwork.cuda.device_count() is {count}"
            )
        return device("cuda", target.index or 0)
    raise NotImplementedError(
        f'gradwork has no {target.type!r} backend: tensors live on the CPU; use device="cpu"'
    )


_default_stack: list[device] = []
_CPU = device("cpu")


def get_default_device() -> device:
    """Where factories put tensors when no `device=` is given (torch.get_default_device).

    Example:
        >>> get_default_device()
        device(type='cpu')
    """
    return _default_stack[-1] if _default_stack else _CPU


def set_default_device(where: Any) -> None:
    """Make factories put tensors on `where` (None: the CPU again): torch.set_default_device."""
    _default_stack.clear()
    if where is not None:
        _default_stack.append(check_placeable(where))
