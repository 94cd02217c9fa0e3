"""nn.utils.prune (masks, containers, global pruning, remove), the pruned-Linear-to-sparse
helper, and sparse tensors through deepseek.save / deepseek.load."""
from __future__ import annotations

import numpy as np
import pytest

import deepseek as ds
from deepseek import nn
from deepseek.nn.utils import prune


def npy(t):
    return t.detach().numpy()


def distinct_linear(inp, out, seed=0):
    """A float64 Linear whose weights have distinct magnitudes (no ties in the ranking)."""
    rng = np.random.default_rng(seed)
    lin = nn.Linear(inp, out).double()
    mags = rng.permutation(inp * out) + 1.0
    w = mags.reshape(out, inp) * rng.choice([-1.0, 1.0], (out, inp)) / (inp * out)
    with ds.no_grad():
        lin.weight.copy_(ds.tensor(w))
    return lin, w


@pytest.mark.parametrize("amount", [0, 3, 0.25, 0.9, 1.0])
def test_l1_unstructured_prunes_the_smallest(amount):
    lin, w = distinct_linear(5, 4)
    prune.l1_unstructured(lin, "weight", amount=amount)
    k = amount if isinstance(amount, int) else round(amount * w.size)
    want = np.ones(w.size)
    want[np.argsort(np.abs(w).reshape(-1))[:k]] = 0
    np.testing.assert_array_equal(npy(lin.weight_mask).reshape(-1), want)
    np.testing.assert_array_equal(npy(lin.weight), w * want.reshape(w.shape))
    assert "weight_orig" in dict(lin.named_parameters()) and "weight" not in dict(lin.named_parameters())
    assert "weight_mask" in dict(lin.named_buffers())
    assert prune.is_pruned(lin)
    # the forward recomputes weight from weight_orig and the mask
    with ds.no_grad():
        lin.weight_orig.add_(1.0)
    x = ds.tensor(np.random.default_rng(1).standard_normal((2, 5)))
    np.testing.assert_allclose(npy(lin(x)), npy(x) @ ((w + 1) * want.reshape(w.shape)).T + npy(lin.bias), rtol=1e-12)


def test_iterative_pruning_combines_masks_and_remove_makes_it_permanent():
    lin, w = distinct_linear(6, 5)
    prune.l1_unstructured(lin, "weight", amount=0.5)  # 15 of 30
    prune.l1_unstructured(lin, "weight", amount=0.4)  # 40% of the 15 left: 6 more
    assert isinstance(lin._forward_pre_hooks[max(lin._forward_pre_hooks)], prune.PruningContainer)
    order = np.argsort(np.abs(w).reshape(-1))
    want = np.ones(30)
    want[order[:21]] = 0
    np.testing.assert_array_equal(npy(lin.weight_mask).reshape(-1), want)
    prune.remove(lin, "weight")
    assert not prune.is_pruned(lin) and "weight" in dict(lin.named_parameters())
    assert "weight_orig" not in dict(lin.named_parameters()) and "weight_mask" not in dict(lin.named_buffers())
    np.testing.assert_array_equal(npy(lin.weight), w * want.reshape(w.shape))
    with pytest.raises(ValueError, match="has to be pruned"):
        prune.remove(lin, "weight")


def test_ln_structured_random_and_custom():
    lin, w = distinct_linear(4, 6)
    prune.ln_structured(lin, "weight", amount=2, n=2, dim=0)
    norms = np.linalg.norm(w, axis=1)
    want = np.ones(6)
    want[np.argsort(norms)[:2]] = 0
    np.testing.assert_array_equal(npy(lin.weight_mask), np.repeat(want[:, None], 4, 1))
    # structured on top of structured: a share of the channels still kept
    prune.ln_structured(lin, "weight", amount=0.5, n=1, dim=0)
    kept = np.argsort(norms)[2:]
    l1 = np.abs(w[kept]).sum(1)
    want[kept[np.argsort(l1)[:2]]] = 0
    np.testing.assert_array_equal(npy(lin.weight_mask)[:, 0], want)

    lin2, _ = distinct_linear(4, 6)
    ds.manual_seed(0)
    prune.random_unstructured(lin2, "weight", amount=0.5)
    assert int(npy(lin2.weight_mask).sum()) == 12
    prune.random_structured(lin2, "bias", amount=2, dim=0)
    assert int(npy(lin2.bias_mask).sum()) == 4
    lin3, w3 = distinct_linear(3, 2)
    mask = ds.tensor([[1.0, 0.0, 1.0], [0.0, 0.0, 1.0]], dtype=ds.float64)
    prune.custom_from_mask(lin3, "weight", mask)
    np.testing.assert_array_equal(npy(lin3.weight), w3 * npy(mask))
    prune.identity(lin3, "bias")
    np.testing.assert_array_equal(npy(lin3.bias_mask), np.ones(2))


def test_global_unstructured_ranks_all_tensors_together():
    a, wa = distinct_linear(4, 3, seed=1)
    b, wb = distinct_linear(2, 5, seed=2)
    with ds.no_grad():
        b.weight.mul_(3.0)  # b's weights are larger: most pruning falls on a
    wb = wb * 3.0
    prune.global_unstructured([(a, "weight"), (b, "weight")], pruning_method=prune.L1Unstructured, amount=0.5)
    allw = np.concatenate([np.abs(wa).reshape(-1), np.abs(wb).reshape(-1)])
    thresh = np.sort(allw)[len(allw) // 2 - 1]
    np.testing.assert_array_equal(npy(a.weight_mask).reshape(-1), (np.abs(wa).reshape(-1) > thresh).astype(float))
    np.testing.assert_array_equal(npy(b.weight_mask).reshape(-1), (np.abs(wb).reshape(-1) > thresh).astype(float))


def test_bad_amounts_are_refused():
    lin, _ = distinct_linear(3, 2)
    with pytest.raises(ValueError, match="float in the range"):
        prune.l1_unstructured(lin, "weight", amount=1.5)
    with pytest.raises(ValueError, match="non-negative integer"):
        prune.l1_unstructured(lin, "weight", amount=-1)
    with pytest.raises(ValueError, match="smaller than the number of parameters"):
        prune.l1_unstructured(lin, "weight", amount=7)
    assert not prune.is_pruned(lin) and "weight" in dict(lin.named_parameters())  # left as it was
    with pytest.raises(TypeError):
        prune.l1_unstructured(lin, "weight", amount="half")


def test_pruned_linear_to_sparse_matches_dense():
    ds.manual_seed(0)
    lin = nn.Linear(40, 24).double()
    prune.l1_unstructured(lin, "weight", amount=0.9)
    sparse = prune.to_sparse_linear(lin)
    assert isinstance(sparse, ds.sparse.SparseLinear) and sparse.weight.layout is ds.sparse_csr
    assert sparse.weight._nnz() == 96  # 10% of 960
    x = ds.randn(3, 7, 40, dtype=ds.float64)
    np.testing.assert_allclose(npy(sparse(x)), npy(lin(x)), rtol=1e-12, atol=1e-12)
    assert "density=0.100" in repr(sparse)
    f32 = prune.to_sparse_linear(lin).float()
    assert f32.weight.dtype == ds.float32 and f32.bias.dtype == ds.float32
    np.testing.assert_allclose(npy(f32(x.float())), npy(lin(x)), rtol=1e-4, atol=1e-5)
    # gradients reach the input, the bias and the stored weights
    x.requires_grad_(True)
    sparse(x).sum().backward()
    np.testing.assert_allclose(npy(x.grad), np.broadcast_to(npy(lin.weight).sum(0), (3, 7, 40)), rtol=1e-12)
    np.testing.assert_allclose(npy(sparse.bias.grad), np.full(24, 21.0))
    with pytest.raises(RuntimeError, match="in_features=40"):
        sparse(ds.zeros(2, 39, dtype=ds.float64))


def test_sparse_tensors_save_and_load(tmp_path):
    rng = np.random.default_rng(0)
    a = rng.standard_normal((5, 4)) * (rng.random((5, 4)) < 0.4)
    coo = ds.sparse_coo_tensor([[0, 2, 0], [1, 3, 1]], [1.0, 2.0, 3.0], (3, 4))  # uncoalesced
    csr = ds.tensor(a).to_sparse_csr()
    hybrid = ds.tensor(a).to_sparse(sparse_dim=1)
    path = tmp_path / "sparse.safetensors"
    ds.save({"coo": coo, "csr": csr, "h": hybrid, "dense": ds.ones(2), "n": 3}, path)
    back = ds.load(path)
    assert back["n"] == 3 and back["coo"].layout is ds.sparse_coo and back["csr"].layout is ds.sparse_csr
    assert not back["coo"].is_coalesced() and back["h"].is_coalesced()
    np.testing.assert_array_equal(npy(back["coo"].to_dense()), npy(coo.to_dense()))
    np.testing.assert_array_equal(npy(back["csr"].col_indices()), npy(csr.col_indices()))
    np.testing.assert_array_equal(npy(back["csr"].to_dense()), a)
    np.testing.assert_array_equal(npy(back["h"].to_dense()), a)
    # the parts are ordinary safetensors entries, readable by any reader
    raw = ds.load(path)
    assert set(raw) == {"coo", "csr", "h", "dense", "n"}


def test_loading_a_tampered_sparse_index_fails(tmp_path):
    import json
    import struct

    s = ds.sparse_csr_tensor([0, 1, 2], [0, 1], [1.0, 2.0], (2, 2))
    path = tmp_path / "s.safetensors"
    ds.save({"s": s}, path)
    data = bytearray(path.read_bytes())
    n = struct.unpack("<Q", data[:8])[0]
    header = json.loads(data[8:8 + n])
    meta = header["__metadata__"]
    structure = json.loads(meta["deepseek.structure"])
    structure["__dict__"]["s"]["size"] = [2, 1]  # column 1 is now out of range
    meta["deepseek.structure"] = json.dumps(structure)
    meta.pop("deepseek.crc32")
    hb = json.dumps(header, separators=(",", ":")).encode()
    hb += b" " * ((8 - len(hb) % 8) % 8)
    path.write_bytes(struct.pack("<Q", len(hb)) + hb + bytes(data[8 + n:]))
    with pytest.raises(RuntimeError, match="col_indices must be in"):
        ds.load(path)
