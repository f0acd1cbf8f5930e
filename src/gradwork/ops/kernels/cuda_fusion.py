"""Fused elementwise kernels for device arrays: a plain function, compiled by `xp.fuse`.

A `FusedKernel` holds a plain Python function of arrays and scalars, written
on the namespace `xp` it is built for (`xp.sqrt`, `xp.where`, `+=`, `out=`).
On CuPy, `cupy.fuse` traces it once per argument types and compiles ONE CUDA
kernel, so a chain such as Adam's update reads and writes each element once
instead of once per NumPy-style call. The same function, called unfused on
NumPy arrays, is the reference the fused kernel must equal.

NOTE: the body takes `xp` from the closure, never `np.*`: inside `cupy.fuse`
the arguments are tracing proxies without `__array_ufunc__`, so only CuPy's
own ufuncs (`xp.sqrt`, `xp.maximum`, `xp.where`) and operators trace.

If fusing fails at run time (a compile error on some CuPy or CUDA version),
the kernel warns once, naming itself, and runs unfused from then on: slower,
never wrong, never a crash. A compile error is raised before the kernel
launches, so an in-place kernel has written nothing when it falls back.

Example:
    >>> import numpy as np
    >>> double_plus = FusedKernel("double_plus", lambda xp: lambda a, b: a + a + b)
    >>> double_plus(np.arange(3.0), 1.0).tolist()  # NumPy: the plain function
    [1.0, 3.0, 5.0]
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from gradwork._arrays import xp_of

# False runs every FusedKernel unfused (GRADWORK_DEVICE_KERNELS=reference, benchmarks).
ENABLED = True


class FusedKernel:
    """`build(xp)` gives the plain function on namespace xp; calling the kernel runs it
    fused (`xp.fuse`) on device arrays, plainly on NumPy ones."""

    def __init__(self, name: str, build: Callable[[Any], Callable[..., Any]]) -> None:
        self.name = name
        self.build = build
        self._plain: dict[Any, Callable[..., Any]] = {}
        self._fused: dict[Any, Callable[..., Any]] = {}
        self._failed: set[Any] = set()  # namespaces whose fuse failed: run unfused there

    def plain(self, xp: Any) -> Callable[..., Any]:
        """The unfused function on namespace xp (the reference form of this kernel)."""
        if xp not in self._plain:
            self._plain[xp] = self.build(xp)
        return self._plain[xp]

    def __call__(self, *args: Any) -> Any:
        xp = xp_of(*args)
        if xp is np or not ENABLED or xp in self._failed or not hasattr(xp, "fuse"):
            return self.plain(xp)(*args)
        try:
            if xp not in self._fused:
                self._fused[xp] = xp.fuse(kernel_name=f"gradwork_{self.name}")(self.build(xp))
            return self._fused[xp](*args)
        except Exception as error:  # noqa: BLE001 - any fusing failure: fall back, once
            # The plain function first: when it raises too, the input was bad, not the
            # fusing, and the error is the caller's to see (fusion stays on).
            result = self.plain(xp)(*args)
            self._failed.add(xp)
            warnings.warn(
                f"gradwork: the fused device kernel {self.name!r} failed to build or run "
                f"({type(error).__name__}: {error}); it runs unfused from now on (same "
                "values, more kernel launches). Please report this with your CuPy version.",
                RuntimeWarning,
                stacklevel=2,
            )
            return result

    def __repr__(self) -> str:
        return f"FusedKernel({self.name!r})"
