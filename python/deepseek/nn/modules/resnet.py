"""The ResNets moved to ``deepseek.models.resnet``; these names stay for existing code."""
from ...models.resnet import (  # noqa: F401
    BasicBlock, Bottleneck, ResNet, ResNet18, ResNet34, ResNet50, ResNet101, ResNet152,
)
