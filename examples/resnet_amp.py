"""The mixed-precision ResNet-50 training loop, as users write it.

Runs on the CPU when no accelerator backend is installed; ``--tiny`` uses small random
images so it finishes quickly."""
import argparse

import deepseek
from deepseek import nn, optim
from deepseek.data import DataLoader, TensorDataset


def make_loader(n=8, size=32, classes=10, batch=4):
    deepseek.manual_seed(0)
    x = deepseek.randn(n, 3, size, size)
    y = deepseek.randint(0, classes, (n,))
    return DataLoader(TensorDataset(x, y), batch_size=batch, shuffle=True)


def main(steps=2, size=32, arch="ResNet50"):
    device = "cpu"
    device_type = "cpu"
    dataloader = make_loader(size=size)
    model = getattr(nn, arch)(num_classes=10).to(device)
    optimizer = optim.DeepSeekAdam(model.parameters(), lr=0.001)
    scaler = nn.GradScaler()
    losses = []
    for step in range(steps):
        for inputs, labels in dataloader:
            with nn.autocast(device_type=device_type, dtype=nn.float16):
                outputs = model(inputs)
                loss = nn.CrossEntropyLoss()(outputs, labels)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            optimizer.zero_grad()
            losses.append(loss.item())
    print(f"{arch}: {len(losses)} steps, losses {[round(v, 3) for v in losses]}, scale {scaler.get_scale()}")
    return losses


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1)
    ap.add_argument("--size", type=int, default=32)
    ap.add_argument("--arch", default="ResNet50")
    a = ap.parse_args()
    main(a.steps, a.size, a.arch)
