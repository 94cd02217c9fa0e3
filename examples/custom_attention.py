"""A custom layer built on nn.MultiHeadAttention with a learnable scale."""
import deepseek
from deepseek import nn
from deepseek.nn import MultiHeadAttention


class CustomAttention(nn.Module):
    def __init__(self, embed_dim, num_heads):
        super().__init__()
        self.attn = MultiHeadAttention(embed_dim, num_heads)
        self.scale_factor = nn.Parameter(deepseek.ones(1))

    def forward(self, x):
        return self.attn(x) * self.scale_factor


def main():
    deepseek.manual_seed(0)
    layer = CustomAttention(embed_dim=16, num_heads=4)
    x = deepseek.randn(2, 5, 16)
    y = layer(x)
    y.pow(2).mean().backward()
    print("output", tuple(y.shape), "scale grad", layer.scale_factor.grad)
    return layer, x, y


if __name__ == "__main__":
    main()
