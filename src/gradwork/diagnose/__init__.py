"""Diagnostics: gradient checks now; layer-health monitors and the training doctor later."""

from gradwork.diagnose.gradcheck import GradcheckError, GradcheckReport, gradcheck

__all__ = ["gradcheck", "GradcheckError", "GradcheckReport"]
