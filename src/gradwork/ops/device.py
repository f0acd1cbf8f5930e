"""`ToDevice`: a copy between the host and a device, differentiable.

Example:
    >>> import gradwork as gw
    >>> from gradwork import _standin
    >>> was_on = _standin.enabled()
    >>> _standin.enable()  # the CPU stand-in plays CUDA (on a GPU machine, CuPy does)
    >>> x = gw.tensor([1.0, 2.0], requires_grad=True)
    >>> y = x.to("cuda")
    >>> y.device, type(y.grad_fn).__name__
    (device(type='cuda', index=0), 'ToDevice')
    >>> (y * y).sum().backward()
    >>> x.grad              # moved back to the host, where x lives
    tensor([2., 4.])
    >>> if not was_on:
    ...     _standin.disable()
"""

from __future__ import annotations

from gradwork._arrays import is_device_array, to_device, to_host
from gradwork.autograd import Function


class ToDevice(Function):
    """The input copied to `target` ("cuda" or "cpu"); the gradient is copied back.

    The transfer is explicit (`gradwork._arrays.to_device` / `to_host`): the
    one place tensors cross between host and device memory.
    """

    @staticmethod
    def forward(ctx, a, target):
        ctx.from_device = is_device_array(a)
        return to_device(a) if target == "cuda" else to_host(a)

    @staticmethod
    def backward(ctx, grad):
        return (to_device(grad) if ctx.from_device else to_host(grad)), None
