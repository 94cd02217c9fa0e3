"""The digits MLP trains on opencl:0 as it does on the CPU: same initial weights, data order
and hyperparameters, a loss curve that matches step by step, and the same accuracy."""
import numpy as np

import deepseek
from deepseek import nn, optim


def _train(device, epochs=4):
    from deepseek.data.datasets import digits

    train, test = digits("train"), digits("test")
    xtr, ytr = train.tensors
    xte, yte = test.tensors
    deepseek.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)).to(device)
    opt = optim.DeepSeekAdam(model.parameters(), lr=1e-2)
    xtr, ytr, xte = xtr.to(device), ytr.to(device), xte.to(device)
    order = np.random.default_rng(0).permutation(len(ytr))
    losses = []
    for _ in range(epochs):
        for i in range(0, len(order) - 63, 64):
            idx = deepseek.tensor(order[i:i + 64]).to(device)
            loss = nn.functional.cross_entropy(model(xtr[idx]), ytr[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(loss.item())
    with deepseek.no_grad():
        acc = (model(xte).argmax(1).cpu() == yte).float().mean().item()
    return np.array(losses), acc, model


def test_digits_mlp_on_opencl_matches_the_cpu(opencl_device):
    dev = opencl_device
    cpu_losses, cpu_acc, _ = _train("cpu")
    dev_losses, dev_acc, model = _train(dev)
    assert all(p.device.type == "opencl" for p in model.parameters())
    assert len(dev_losses) == len(cpu_losses) > 50
    # float32 on two devices: the curves agree closely step by step, and both learn
    np.testing.assert_allclose(dev_losses, cpu_losses, rtol=2e-3, atol=2e-4)
    assert dev_losses[-10:].mean() < 0.35 * dev_losses[:5].mean()
    assert dev_acc >= 0.9 and abs(dev_acc - cpu_acc) <= 0.01
