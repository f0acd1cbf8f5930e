"""The export's errors (importable without the onnx package)."""


class ExportError(RuntimeError):
    """The model can't be written as ONNX; the message names the op and the module path."""


class UnsupportedOperatorError(ExportError):
    """An op with no ONNX mapping (torch.onnx's name for the same error)."""
