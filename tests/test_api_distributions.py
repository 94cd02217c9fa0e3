"""deepseek.distributions against scipy.stats in float64: log_prob, entropy, moments, KL
divergences, sample statistics, and reparameterized gradients."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.stats as ss
from scipy.special import digamma, gammaln

import deepseek as ds
from deepseek import distributions as D
from test_api_ops import T, close


def test_normal_uniform():
    loc, scale = np.array([0.0, 1.5, -2.0]), np.array([1.0, 0.3, 2.5])
    n = D.Normal(T(loc), T(scale))
    x = np.array([0.2, 1.0, -7.0])
    close(n.log_prob(T(x)), ss.norm(loc, scale).logpdf(x))
    close(n.entropy(), ss.norm(loc, scale).entropy())
    close(n.cdf(T(x)), ss.norm(loc, scale).cdf(x))
    close(n.icdf(T([0.1, 0.5, 0.9])), ss.norm(loc, scale).ppf([0.1, 0.5, 0.9]), rtol=1e-8)
    u = D.Uniform(T([0.0, -1.0]), T([2.0, 3.0]))
    close(u.log_prob(T([1.0, 0.0])), ss.uniform(np.array([0.0, -1.0]), np.array([2.0, 4.0])).logpdf([1.0, 0.0]))
    close(u.entropy(), np.log([2.0, 4.0]))
    with pytest.raises(ValueError, match="scale"):
        D.Normal(T([0.0]), T([-1.0]))
    with pytest.raises(ValueError, match="support"):
        u.log_prob(T([5.0, 0.0]))


def test_gamma_beta_dirichlet_densities():
    a, b = np.array([0.5, 2.0, 7.5]), np.array([1.0, 0.5, 3.0])
    g = D.Gamma(T(a), T(b))
    x = np.array([0.3, 2.0, 1.7])
    close(g.log_prob(T(x)), ss.gamma(a, scale=1 / b).logpdf(x), rtol=1e-9)
    close(g.entropy(), ss.gamma(a, scale=1 / b).entropy(), rtol=1e-9)
    close(g.variance, a / b ** 2)
    be = D.Beta(T(a), T(b + 1))
    y = np.array([0.2, 0.5, 0.9])
    close(be.log_prob(T(y)), ss.beta(a, b + 1).logpdf(y), rtol=1e-9)
    close(be.entropy(), ss.beta(a, b + 1).entropy(), rtol=1e-9)
    alpha = np.array([1.5, 0.7, 3.0])
    di = D.Dirichlet(T(alpha))
    p = np.array([0.2, 0.3, 0.5])
    close(di.log_prob(T(p)), ss.dirichlet(alpha).logpdf(p), rtol=1e-9)
    close(di.entropy(), ss.dirichlet(alpha).entropy(), rtol=1e-9)
    close(di.variance, ss.dirichlet(alpha).var(), rtol=1e-9)


def test_multivariate_normal():
    cov = np.array([[2.0, 0.5, 0.1], [0.5, 1.0, -0.2], [0.1, -0.2, 0.7]])
    loc = np.array([0.5, -1.0, 2.0])
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 2.5]])
    ref = ss.multivariate_normal(loc, cov)
    for kw in (dict(covariance_matrix=T(cov)), dict(precision_matrix=T(np.linalg.inv(cov))),
               dict(scale_tril=T(np.linalg.cholesky(cov)))):
        m = D.MultivariateNormal(T(loc), **kw)
        close(m.log_prob(T(x)), ref.logpdf(x), rtol=1e-9)
        close(m.entropy(), ref.entropy(), rtol=1e-9)
        close(m.covariance_matrix, cov, rtol=1e-9)
        close(m.variance, np.diag(cov), rtol=1e-9)
    with pytest.raises(ValueError, match="Exactly one"):
        D.MultivariateNormal(T(loc))


def test_discrete():
    p = np.array([0.1, 0.6, 0.95])
    b = D.Bernoulli(probs=T(p))
    close(b.log_prob(T([1.0, 0.0, 1.0])), ss.bernoulli(p).logpmf([1, 0, 1]), rtol=1e-9)
    close(b.entropy(), ss.bernoulli(p).entropy(), rtol=1e-9)
    close(D.Bernoulli(logits=T(np.log(p / (1 - p)))).probs, p)
    probs = np.array([[0.2, 0.3, 0.5], [0.7, 0.0, 0.3]])
    c = D.Categorical(probs=T(probs))
    close(c.log_prob(ds.tensor([2, 0])), np.log([0.5, 0.7]))
    close(c.entropy(), [ss.entropy(r) for r in probs], rtol=1e-9)
    ds.manual_seed(0)
    s = c.sample((4000,))
    assert s.shape == (4000, 2)
    freq = np.stack([(s.numpy()[:, 0] == k).mean() for k in range(3)])
    np.testing.assert_allclose(freq, probs[0], atol=0.03)
    assert not (s.numpy()[:, 1] == 1).any()
    with pytest.raises(ValueError, match="Either `probs` or `logits`"):
        D.Categorical()


def test_sample_moments_and_shapes():
    ds.manual_seed(1)
    cases = [
        (D.Normal(T([1.0, -2.0]), T([0.5, 2.0])), np.array([1.0, -2.0]), np.array([0.25, 4.0])),
        (D.Gamma(T([0.4, 3.0]), T([2.0, 0.5])), np.array([0.2, 6.0]), np.array([0.1, 12.0])),
        (D.Beta(T([0.5, 4.0]), T([0.5, 2.0])), np.array([0.5, 4 / 6]), np.array([0.125, 8 / 252])),
        (D.Uniform(T([0.0]), T([3.0])), np.array([1.5]), np.array([0.75])),
    ]
    for d, mean, var in cases:
        s = d.sample((20000,)).numpy()
        assert s.shape == (20000,) + tuple(d.batch_shape)
        np.testing.assert_allclose(s.mean(0), mean, rtol=0.05, atol=0.02)
        np.testing.assert_allclose(s.var(0), var, rtol=0.1, atol=0.01)
    di = D.Dirichlet(T([[1.0, 2.0, 3.0]]))
    s = di.sample((10000,)).numpy()
    assert s.shape == (10000, 1, 3)
    np.testing.assert_allclose(s.sum(-1), 1.0, rtol=1e-12)
    np.testing.assert_allclose(s.mean(0)[0], [1 / 6, 2 / 6, 3 / 6], atol=0.01)
    cov = np.array([[1.0, 0.8], [0.8, 2.0]])
    mv = D.MultivariateNormal(T([0.0, 1.0]), covariance_matrix=T(cov)).sample((20000,)).numpy()
    np.testing.assert_allclose(np.cov(mv.T), cov, atol=0.06)


def test_rsample_gradients():
    ds.manual_seed(2)
    loc = T([0.5]).requires_grad_()
    scale = T([2.0]).requires_grad_()
    D.Normal(loc, scale).rsample((1000,)).mean().backward()
    close(loc.grad, [1.0])
    # d E[x] / d concentration of Gamma(a, 1) is 1: the implicit reparameterization gradient
    a = T([1.7, 0.6]).requires_grad_()
    D.Gamma(a, T([1.0, 1.0])).rsample((4000,)).mean(0).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [1.0, 1.0], rtol=0.08)
    # the Beta mean a / (a + b) has derivative b / (a + b)^2 in a
    c1 = T([2.0]).requires_grad_()
    D.Beta(c1, T([3.0])).rsample((6000,)).mean().backward()
    np.testing.assert_allclose(c1.grad.numpy(), [3 / 25], rtol=0.15)


def test_kl_divergences_closed_forms():
    a1, b1, a2, b2 = np.array([1.5, 3.0]), np.array([2.0, 0.5]), np.array([0.7, 2.0]), np.array([1.0, 1.5])
    close(D.kl_divergence(D.Normal(T(a1), T(b1)), D.Normal(T(a2), T(b2))),
          np.log(b2 / b1) + (b1 ** 2 + (a1 - a2) ** 2) / (2 * b2 ** 2) - 0.5)
    ref = (a1 - a2) * digamma(a1) - gammaln(a1) + gammaln(a2) + a2 * (np.log(b1) - np.log(b2)) + a1 * (b2 - b1) / b1
    close(D.kl_divergence(D.Gamma(T(a1), T(b1)), D.Gamma(T(a2), T(b2))), ref)
    # Beta is the 2-component Dirichlet
    kb = D.kl_divergence(D.Beta(T(a1), T(b1)), D.Beta(T(a2), T(b2)))
    kd = D.kl_divergence(D.Dirichlet(T(np.stack([a1, b1], -1))), D.Dirichlet(T(np.stack([a2, b2], -1))))
    close(kb, kd.numpy())
    p, q = np.array([0.2, 0.5, 0.3]), np.array([0.1, 0.1, 0.8])
    close(D.kl_divergence(D.Categorical(T(p)), D.Categorical(T(q))), (p * np.log(p / q)).sum())
    close(D.kl_divergence(D.Bernoulli(T([0.3])), D.Bernoulli(T([0.6]))),
          0.3 * np.log(0.3 / 0.6) + 0.7 * np.log(0.7 / 0.4))
    close(D.kl_divergence(D.Uniform(T([0.0]), T([1.0])), D.Uniform(T([-1.0]), T([2.0]))), np.log(3.0))
    assert np.isinf(D.kl_divergence(D.Uniform(T([0.0]), T([1.0])), D.Uniform(T([0.5]), T([2.0]))).numpy()).all()
    c1 = np.array([[2.0, 0.3], [0.3, 1.0]])
    c2 = np.array([[1.0, -0.2], [-0.2, 0.5]])
    m1, m2 = np.array([0.0, 1.0]), np.array([1.0, -1.0])
    ref = 0.5 * (np.trace(np.linalg.solve(c2, c1)) + (m2 - m1) @ np.linalg.solve(c2, m2 - m1) - 2
                 + np.log(np.linalg.det(c2) / np.linalg.det(c1)))
    close(D.kl_divergence(D.MultivariateNormal(T(m1), T(c1)), D.MultivariateNormal(T(m2), T(c2))), ref, rtol=1e-9)
    # a sample estimate agrees with the closed form
    ds.manual_seed(3)
    pn, qn = D.Normal(T([0.3]), T([1.2])), D.Normal(T([-0.4]), T([0.8]))
    s = pn.sample((40000,))
    np.testing.assert_allclose((pn.log_prob(s) - qn.log_prob(s)).mean().numpy(),
                               D.kl_divergence(pn, qn).numpy()[0], rtol=0.05)
    with pytest.raises(NotImplementedError):
        D.kl_divergence(D.Normal(T([0.0]), T([1.0])), D.Gamma(T([1.0]), T([1.0])))
