"""``deepseek.distributions``: probability distributions with ``sample``, ``rsample``
(reparameterized, differentiable in the parameters), ``log_prob``, ``entropy``, ``mean``,
``variance`` and ``kl_divergence``, as PyTorch names them."""
from .distribution import Distribution  # noqa: F401
from .continuous import Beta, Dirichlet, Gamma, MultivariateNormal, Normal, Uniform  # noqa: F401
from .discrete import Bernoulli, Categorical  # noqa: F401
from .kl import kl_divergence, register_kl  # noqa: F401

__all__ = ["Distribution", "Normal", "Uniform", "Beta", "Gamma", "Dirichlet", "MultivariateNormal", "Bernoulli",
           "Categorical", "kl_divergence", "register_kl"]
