"""``deepseek.models``: a model zoo whose ``state_dict`` keys, shapes and buffer names match
the reference implementations (torchvision for vision, Hugging Face transformers for the
language models), so their checkpoints load with ``load_state_dict(strict=True)``.

>>> from deepseek import models
>>> models.list_models("image-classification")[:3]
['convnext_tiny', 'densenet121', 'efficientnet_b0']
>>> net = models.get_model("resnet18", num_classes=10)

The submodules are imported on first use (``deepseek.nn`` imports the ResNets from here,
so this package must not import the whole zoo while ``deepseek.nn`` is initialising).
"""
from __future__ import annotations

import importlib

from ._registry import TASKS, _REGISTRY

_SUBMODULES = ("resnet", "vgg", "mobilenet", "efficientnet", "convnext", "regnet", "densenet",
               "squeezenet", "shufflenet", "vit", "swin", "segmentation", "detr", "bert", "gpt", "llama", "rnn_lm", "t5", "speech",
               "wav2vec2", "whisper", "speech2", "speaker")


def _load_all():
    for name in _SUBMODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as e:  # a family not written yet is simply absent
            if e.name != f"{__name__}.{name}":
                raise


def list_models(task=None):
    """Sorted names of the registered models, optionally only those of one ``task``
    (one of ``deepseek.models.TASKS``)."""
    if task is not None and task not in TASKS:
        raise ValueError(f"list_models: unknown task {task!r}, expected one of {TASKS}")
    _load_all()
    return sorted(n for n, e in _REGISTRY.items() if task is None or e.task == task)


def get_model(name, **kwargs):
    """Builds the model registered as ``name`` with the constructor's keyword arguments."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"get_model: unknown model {name!r}; see deepseek.models.list_models()")
    return _REGISTRY[name].fn(**kwargs)


def get_model_entry(name):
    """The registry entry of ``name`` (constructor, task, example-input factory)."""
    _load_all()
    if name not in _REGISTRY:
        raise ValueError(f"get_model_entry: unknown model {name!r}; see deepseek.models.list_models()")
    return _REGISTRY[name]


def __getattr__(name):
    # deepseek.models.resnet50 and friends: load the zoo, then look again
    if name.startswith("_"):
        raise AttributeError(name)
    _load_all()
    if name in _REGISTRY:
        return _REGISTRY[name].fn
    if name in globals():
        return globals()[name]
    raise AttributeError(f"module 'deepseek.models' has no attribute {name!r}")


__all__ = ["TASKS", "list_models", "get_model", "get_model_entry"]
