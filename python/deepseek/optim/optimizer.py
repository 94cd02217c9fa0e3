"""``Optimizer`` base: parameter groups, state, state_dict round trips."""
from __future__ import annotations

import copy

from .. import _core
from .._core import Tensor


class Optimizer:
    def __init__(self, params, defaults):
        self.defaults = defaults
        self.state = {}
        self.param_groups = []
        params = list(params)
        if not params:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(params[0], dict):
            params = [{"params": params}]
        for g in params:
            self.add_param_group(g)

    def add_param_group(self, group):
        g = dict(group)
        ps = g["params"]
        g["params"] = [ps] if isinstance(ps, Tensor) else list(ps)
        for p in g["params"]:
            if not isinstance(p, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(p).__name__}")
            if not p.is_leaf:
                raise ValueError("can't optimize a non-leaf Tensor")
        for k, v in self.defaults.items():
            g.setdefault(k, v)
        seen = {id(p) for grp in self.param_groups for p in grp["params"]}
        if any(id(p) in seen for p in g["params"]):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(g)

    def zero_grad(self, set_to_none=True):
        for g in self.param_groups:
            for p in g["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.zero_()

    def state_dict(self):
        """{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}, as PyTorch."""
        index = {}
        groups = []
        for g in self.param_groups:
            gg = {k: v for k, v in g.items() if k != "params"}
            gg["params"] = []
            for p in g["params"]:
                index.setdefault(id(p), len(index))
                gg["params"].append(index[id(p)])
            groups.append(gg)
        state = {}
        for g in self.param_groups:
            for p in g["params"]:
                if p in self.state:
                    state[index[id(p)]] = {k: (v.clone() if isinstance(v, Tensor) else v) for k, v in self.state[p].items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict):
        groups = state_dict["param_groups"]
        if len(groups) != len(self.param_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        idx_to_p = {}
        for g, sg in zip(self.param_groups, groups):
            if len(g["params"]) != len(sg["params"]):
                raise ValueError("loaded state dict contains a parameter group that doesn't match the size of optimizer's group")
            for p, i in zip(g["params"], sg["params"]):
                idx_to_p[int(i)] = p
            for k, v in sg.items():
                if k != "params":
                    g[k] = v
        self.state = {}
        for i, st in state_dict["state"].items():
            p = idx_to_p[int(i)]
            self.state[p] = {k: (v.clone().to(p.dtype) if isinstance(v, Tensor) and v.dtype.is_floating_point and k != "step" and "bf16" not in k else (v.clone() if isinstance(v, Tensor) else copy.deepcopy(v))) for k, v in st.items()}

    def step(self, closure=None):
        raise NotImplementedError

    def __repr__(self):
        s = type(self).__name__ + " ("
        for i, g in enumerate(self.param_groups):
            s += f"\nParameter Group {i}"
            for k in sorted(g):
                if k != "params":
                    s += f"\n    {k}: {g[k]}"
        return s + "\n)"


class _NoGrad:
    def __enter__(self):
        self.prev = _core.set_grad_enabled(False)

    def __exit__(self, *a):
        _core.set_grad_enabled(self.prev)
