"""Datasets that ship with installed packages, so nothing is downloaded at run time."""
from __future__ import annotations


def digits(split=None, test_fraction=0.2, seed=0, normalize=True, as_images=False):
    """scikit-learn's bundled 8x8 digits (1797 images, 10 classes).

    Returns a ``TensorDataset`` of (float32 features [N, 64] in [0, 1] or images [N, 1, 8, 8],
    int64 labels). With ``split='train'`` or ``'test'``, a fixed, seeded split.
    """
    try:
        from sklearn.datasets import load_digits
    except ImportError as e:  # pragma: no cover - depends on the environment
        raise ImportError('deepseek.data.datasets.digits needs scikit-learn: pip install "deepseek[data]"') from e
    import numpy as np

    from .. import tensor
    from . import TensorDataset

    d = load_digits()
    x = d.data.astype(np.float32)
    if normalize:
        x = x / 16.0
    y = d.target.astype(np.int64)
    if as_images:
        x = x.reshape(-1, 1, 8, 8)
    if split is not None:
        order = np.random.default_rng(seed).permutation(len(x))
        n_test = int(round(len(x) * test_fraction))
        sel = order[n_test:] if split == "train" else order[:n_test]
        if split not in ("train", "test"):
            raise ValueError(f"split must be None, 'train' or 'test', got {split!r}")
        x, y = x[sel], y[sel]
    return TensorDataset(tensor(x), tensor(y))
