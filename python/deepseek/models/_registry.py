"""The model registry: every constructor registers itself with its task and the default
input it is measured on (``python -m deepseek.models``)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

TASKS = ("image-classification", "segmentation", "object-detection", "text-encoder", "text-generation",
         "speech-recognition", "speaker-recognition")


@dataclass
class ModelEntry:
    name: str
    fn: Callable
    task: str
    #: a callable building the default example input (a tuple of positional args)
    example: Callable
    reference: str = ""
    defaults: dict = field(default_factory=dict)


_REGISTRY: dict[str, ModelEntry] = {}


def register_model(task, example, reference=""):
    """Decorator: registers a constructor under its function name."""
    if task not in TASKS:
        raise ValueError(f"register_model: unknown task {task!r}, expected one of {TASKS}")

    def deco(fn):
        if fn.__name__ in _REGISTRY:
            raise ValueError(f"register_model: {fn.__name__!r} is registered twice")
        _REGISTRY[fn.__name__] = ModelEntry(fn.__name__, fn, task, example, reference)
        return fn

    return deco


def image_input(size=224, channels=3):
    """Example-input factory for an image model: one [1, C, size, size] batch."""
    def make():
        from .. import randn

        return (randn(1, channels, size, size),)
    return make


def token_input(seq=128, vocab=1000):
    """Example-input factory for a token model: one [1, seq] batch of ids."""
    def make():
        from .. import int64, randint

        return (randint(0, vocab, (1, seq), dtype=int64),)
    return make


def seq2seq_input(src=128, tgt=128, vocab=1000):
    """Example-input factory for an encoder-decoder: ([1, src] ids, [1, tgt] decoder ids)."""
    def make():
        from .. import int64, randint

        return (randint(0, vocab, (1, src), dtype=int64), randint(0, vocab, (1, tgt), dtype=int64))
    return make
