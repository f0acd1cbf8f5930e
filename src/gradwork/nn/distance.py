"""Distance layers: cosine similarity and p-norm distance between two inputs."""

from __future__ import annotations

from gradwork.nn import functional as F
from gradwork.nn.module import Module
from gradwork.tensor import Tensor


class CosineSimilarity(Module):
    """Cosine of the angle between x1 and x2 along `dim` (norms clamped to `eps`).

    Example:
        >>> import gradwork as gw
        >>> gw.nn.CosineSimilarity(dim=1)(gw.ones(2, 3), gw.ones(2, 3))
        tensor([1., 1.])
    """

    def __init__(self, dim: int = 1, eps: float = 1e-8) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.cosine_similarity(x1, x2, self.dim, self.eps)


class PairwiseDistance(Module):
    """||x1 - x2 + eps||_p along the last dimension.

    Example:
        >>> import gradwork as gw
        >>> gw.nn.PairwiseDistance(eps=0.0)(gw.zeros(1, 2), gw.tensor([[3.0, 4.0]]))
        tensor([5.])
    """

    def __init__(self, p: float = 2.0, eps: float = 1e-6, keepdim: bool = False) -> None:
        super().__init__()
        self.norm, self.eps, self.keepdim = p, eps, keepdim

    def forward(self, x1: Tensor, x2: Tensor) -> Tensor:
        return F.pairwise_distance(x1, x2, self.norm, self.eps, self.keepdim)
