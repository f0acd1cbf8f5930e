"""`gradwork.backends`: torch's backend switches, for scripts that query or set them.

Example:
    >>> import gradwork as gw
    >>> gw.backends.mps.is_available()
    False
"""

from gradwork.backends import cudnn, mps

__all__ = ["cudnn", "mps"]
