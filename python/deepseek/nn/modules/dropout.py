"""The feature and alpha dropouts (``Dropout1d/2d/3d``, ``AlphaDropout``, ``FeatureAlphaDropout``);
``Dropout`` itself is in ``layers``."""
from __future__ import annotations

from .. import functional as F
from .module import Module

__all__ = ["Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout"]


def _dropout_layer(name, fn):
    def __init__(self, p=0.5, inplace=False):
        Module.__init__(self)
        if p < 0 or p > 1:
            raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")
        self.p, self.inplace = p, inplace

    def forward(self, x):
        return fn(x, self.p, self.training, self.inplace)

    def extra_repr(self):
        return f"p={self.p}, inplace={self.inplace}"

    return type(name, (Module,), {"__init__": __init__, "forward": forward, "extra_repr": extra_repr,
                                  "__doc__": f"{name}(p=0.5, inplace=False)."})


Dropout1d = _dropout_layer("Dropout1d", F.dropout1d)
Dropout2d = _dropout_layer("Dropout2d", F.dropout2d)
Dropout3d = _dropout_layer("Dropout3d", F.dropout3d)
AlphaDropout = _dropout_layer("AlphaDropout", F.alpha_dropout)
FeatureAlphaDropout = _dropout_layer("FeatureAlphaDropout", F.feature_alpha_dropout)
