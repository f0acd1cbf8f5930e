"""`gradwork.utils`: module paths that torch scripts name, pointing at gradwork's own.

`gradwork.utils.data` IS `gradwork.data` (one module object under two names),
so `from gradwork.utils.data import DataLoader, TensorDataset` works unchanged.

Example:
    >>> import gradwork as gw
    >>> from gradwork.utils.data import DataLoader
    >>> DataLoader is gw.data.DataLoader
    True
"""

import sys

from gradwork import data

# Registered under the second name too, so `import gradwork.utils.data` and
# `from gradwork.utils.data import X` find it instead of looking for a file.
sys.modules[f"{__name__}.data"] = data

__all__ = ["data"]
