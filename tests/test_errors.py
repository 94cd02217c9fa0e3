"""User mistakes become the exception PyTorch raises, naming the op and the shapes."""
from __future__ import annotations

import re

import numpy as np
import pytest

import deepseek as ds


def _names_both_shapes(msg, a, b):
    """True when ``msg`` mentions both shapes, written as lists or tuples."""
    def forms(s):
        s = list(s)
        inner = ", ".join(map(str, s))
        return {f"[{inner}]", f"({inner})", f"({inner},)", f"[{inner},]"}

    return any(f in msg for f in forms(a)) and any(f in msg for f in forms(b))


SHAPE_MISMATCH = [
    ("add", lambda a, b: ds.add(a, b), (2, 3), (4,)),
    ("sub", lambda a, b: a - b, (2, 3), (2, 2)),
    ("mul", lambda a, b: ds.mul(a, b), (3,), (4,)),
    ("div", lambda a, b: a / b, (2, 3), (3, 2)),
    ("maximum", lambda a, b: ds.maximum(a, b), (5,), (2,)),
    ("atan2", lambda a, b: ds.atan2(a, b), (5,), (2,)),
    ("eq", lambda a, b: a == b, (2, 3), (4,)),
    ("where", lambda a, b: ds.where(a > 0, a, b), (2, 3), (4,)),
    ("matmul", lambda a, b: ds.matmul(a, b), (2, 3), (4, 5)),
    ("matmul", lambda a, b: a @ b, (3,), (4,)),
    ("matmul", lambda a, b: ds.matmul(a, b), (2, 2, 3), (3, 3, 2)),
    ("mm", lambda a, b: ds.mm(a, b), (2, 3), (4, 5)),
    ("bmm", lambda a, b: ds.bmm(a, b), (2, 2, 3), (2, 4, 5)),
    ("cat", lambda a, b: ds.cat([a, b], 0), (2, 3), (2, 4)),
    ("stack", lambda a, b: ds.stack([a, b]), (2, 3), (3, 2)),
    ("expand", lambda a, b: a.expand(*b.shape), (2, 3), (4, 3)),
    ("view", lambda a, b: a.view(*b.shape), (2, 3), (4, 2)),
    ("reshape", lambda a, b: a.reshape(*b.shape), (2, 3), (4, 2)),
    ("gather", lambda a, b: ds.gather(a, 1, b.long()), (2, 3), (3, 3, 1)),
    ("index_add", lambda a, b: ds.index_add(a, 0, ds.tensor([0]), b), (2, 3), (1, 4)),
    ("masked_fill", lambda a, b: ds.masked_fill(a, b > 0, 1.0), (2, 3), (4,)),
    ("copy_", lambda a, b: a.copy_(b), (2, 3), (4,)),
    ("add_", lambda a, b: a.add_(b), (3,), (2, 3)),
]


@pytest.mark.parametrize("op,fn,sa,sb", SHAPE_MISMATCH, ids=[f"{c[0]}-{i}" for i, c in enumerate(SHAPE_MISMATCH)])
def test_shape_mismatch_names_op_and_shapes(op, fn, sa, sb):
    a, b = ds.ones(*sa), ds.ones(*sb)
    with pytest.raises(RuntimeError) as e:
        fn(a, b)
    msg = str(e.value)
    assert op.rstrip("_") in msg.lower() or op in msg, msg
    assert _names_both_shapes(msg, sa, sb), msg


def test_bad_dtypes():
    f = ds.ones(3)
    i = ds.ones(3, dtype=ds.int64)
    b = ds.ones(3, dtype=ds.bool)
    with pytest.raises(RuntimeError, match="bitwise_and"):
        ds.bitwise_and(f, f)
    with pytest.raises(RuntimeError, match="mean"):
        ds.mean(i)
    with pytest.raises(RuntimeError):
        ds.neg(b)
    with pytest.raises(RuntimeError, match="(?i)index"):
        ds.index_select(f, 0, ds.tensor([0.0]))
    with pytest.raises(RuntimeError, match="(?i)gather"):
        ds.gather(f, 0, ds.tensor([0.0]))
    with pytest.raises(RuntimeError, match="masked_fill"):
        ds.masked_fill(f, i, 0.0)
    with pytest.raises(RuntimeError, match="masked_select"):
        ds.masked_select(f, i)
    with pytest.raises(RuntimeError, match="(?i)floating"):
        i.requires_grad_()
    with pytest.raises((RuntimeError, TypeError)):
        ds.zeros(2, dtype="complex32")  # no complex32 (complex64 and complex128 exist)
    with pytest.raises(TypeError):
        ds.tensor([1 + 2j], dtype=ds.int64)
    with pytest.raises(RuntimeError, match="one_hot"):
        ds._ops.one_hot(f)
    with pytest.raises(RuntimeError, match="(?i)result type|cast|can't"):
        i.add_(f)  # float result can't be written into an int tensor
    with pytest.raises(RuntimeError, match="(?i)matmul|mm"):
        ds.matmul(f.reshape(1, 3), ds.ones(3, 1, dtype=ds.float64))
    with pytest.raises(TypeError, match="dtype"):
        ds.cumsum(f, 0, dtype="bogus")
    with pytest.raises((RuntimeError, TypeError), match="bogus"):
        ds.ones(2).to("bogus")


def test_out_of_range_indices_raise_index_error():
    x = ds.zeros(2, 3)
    with pytest.raises(IndexError):
        x[5]
    with pytest.raises(IndexError):
        x[:, 3]
    with pytest.raises(IndexError):
        x[ds.tensor([0, 2])]
    with pytest.raises(IndexError):
        ds.index_select(x, 1, ds.tensor([3]))
    with pytest.raises(IndexError):
        ds.index_select(x, 1, ds.tensor([-4]))
    with pytest.raises(IndexError):
        ds.gather(x, 1, ds.tensor([[0, 3]]))
    with pytest.raises(IndexError):
        ds.scatter(x, 1, ds.tensor([[5]]), ds.ones(1, 1))
    with pytest.raises(IndexError):
        ds.scatter_add(x, 0, ds.tensor([[-3]]), ds.ones(1, 1))
    with pytest.raises(IndexError):
        ds.index_add(x, 0, ds.tensor([2]), ds.ones(1, 3))
    with pytest.raises(IndexError):
        x.index_put_((ds.tensor([2]),), ds.tensor(1.0))
    with pytest.raises(IndexError):
        x.sum(2)
    with pytest.raises(IndexError):
        x.sum(-3)
    with pytest.raises(IndexError):
        x.transpose(0, 2)
    with pytest.raises(IndexError):
        x.unsqueeze(4)
    with pytest.raises(IndexError):
        x.size(2)
    with pytest.raises(IndexError):
        ds.softmax(x, 2)
    with pytest.raises(IndexError):
        ds.cumsum(x, 2)
    with pytest.raises(IndexError):
        ds.cat([x, x], 2)
    with pytest.raises(IndexError):
        ds.argmax(x, 3)
    with pytest.raises(IndexError):
        ds.sort(x, 2)
    with pytest.raises(IndexError):
        x.permute(0, 2)
    with pytest.raises(IndexError):
        ds.flip(x, [2])
    with pytest.raises(IndexError):
        ds.narrow(x, 0, 1, 2)
    with pytest.raises(IndexError):
        ds.squeeze(x, 3)
    with pytest.raises(IndexError):
        ds.max(x, 2)
    with pytest.raises(IndexError):
        x.select(0, 2) if hasattr(x, "select") else ds.unbind(x, 2)
    with pytest.raises(RuntimeError):
        x.permute(0, 0)
    with pytest.raises(RuntimeError, match="(?i)one_hot"):
        ds._ops.one_hot(ds.tensor([3]), 2)


def test_wrong_argument_types_raise_type_error():
    x = ds.ones(2, 2)
    with pytest.raises(TypeError):
        ds.exp([1.0, 2.0])
    with pytest.raises(TypeError):
        ds.sum("abc")
    with pytest.raises(TypeError):
        ds.matmul(x, [[1.0]])
    with pytest.raises(TypeError):
        ds.cat([x, 1.0])
    with pytest.raises(TypeError):
        ds.zeros(2, "a")
    with pytest.raises(TypeError):
        ds.zeros(2.5)
    with pytest.raises(TypeError):
        x + "a"
    with pytest.raises(TypeError):
        x * None
    with pytest.raises(TypeError):
        ds.add(1, 2)
    with pytest.raises(TypeError):
        x.reshape("a")
    with pytest.raises(TypeError):
        x.view(None)
    with pytest.raises(TypeError):
        x.permute("a", 1)
    with pytest.raises(TypeError):
        x.to(3.5)
    with pytest.raises(TypeError):
        ds.tensor(object())
    with pytest.raises(TypeError):
        x[object()]
    with pytest.raises(TypeError):
        x[1.5]
    with pytest.raises(TypeError):
        ds.gather(x, 0, [[0]])
    with pytest.raises(TypeError):
        ds.where(x > 0, x, "a")
    with pytest.raises(TypeError):
        ds.softmax(x)
    with pytest.raises(TypeError):
        ds.from_numpy([1, 2])
    with pytest.raises(TypeError):
        ds.transpose(x, "a", 1)
    with pytest.raises(TypeError):
        ds.sum(x, "a")
    with pytest.raises(TypeError):
        ds.index_select(x, 0, [0])
    with pytest.raises(TypeError):
        x.fill_("a")
    with pytest.raises(TypeError):
        iter(ds.tensor(1.0))
    with pytest.raises(TypeError):
        len(ds.tensor(1.0))


def test_scalar_conversion_errors():
    with pytest.raises(RuntimeError, match="(?i)ambiguous|more than one"):
        bool(ds.ones(2))
    with pytest.raises((RuntimeError, ValueError)):
        ds.ones(2).item()
    with pytest.raises((RuntimeError, ValueError, TypeError)):
        float(ds.ones(3))
    assert bool(ds.ones(1)) is True
    assert int(ds.tensor([7])) == 7


def test_creation_errors():
    with pytest.raises(ValueError):
        ds.tensor([[1, 2], [3]])
    with pytest.raises(RuntimeError):
        ds.zeros(-1)
    with pytest.raises(RuntimeError):
        ds.arange(0, 10, 0)
    with pytest.raises(RuntimeError):
        ds.randint(5, 2, (3,))
    with pytest.raises((RuntimeError, ValueError)):
        ds.ones(2, 2).to("cuda")
    with pytest.raises(TypeError):
        ds.from_numpy(np.zeros(2, dtype=np.clongdouble))


def test_reduction_errors():
    with pytest.raises(RuntimeError, match="(?i)max|numel"):
        ds.amax(ds.zeros(0))
    with pytest.raises(RuntimeError, match="(?i)chunk"):
        ds.chunk(ds.zeros(3), 0)
    with pytest.raises(RuntimeError, match="(?i)split"):
        ds.split(ds.zeros(3), [1, 1])
    with pytest.raises(RuntimeError, match="(?i)repeat"):
        ds.ones(2, 2).repeat(2)
    with pytest.raises(RuntimeError, match="(?i)flatten"):
        ds.flatten(ds.ones(2, 2, 2), 2, 1)
    with pytest.raises((RuntimeError, ValueError), match="(?i)rounding_mode"):
        ds.div(ds.ones(2), ds.ones(2), rounding_mode="bad")
    with pytest.raises(RuntimeError, match="(?i)einsum"):
        ds.einsum("ij,jk->ik", ds.ones(2, 3), ds.ones(4, 2))
    with pytest.raises(RuntimeError, match="(?i)einsum"):
        ds.einsum("ij->ij", ds.ones(2, 3), ds.ones(2, 3))


def test_messages_say_what_would_be_valid():
    with pytest.raises(IndexError) as e:
        ds.ones(2, 3).sum(5)
    assert re.search(r"-2|\[-2, 1\]|range", str(e.value)), str(e.value)
    with pytest.raises(IndexError) as e:
        ds.ones(2, 3)[7]
    assert "7" in str(e.value) and "2" in str(e.value)
