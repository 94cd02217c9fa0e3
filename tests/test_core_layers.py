"""The core's modules depend on each other one way (STYLE.md habit 9; DESIGN.md's layers):
no loop of `crate::` imports among the top-level modules of core-rs/src, and nothing below
the bindings (`py`) reaches up to them. Read from the Rust sources, so a new loop fails here
the day it is written."""
from __future__ import annotations

import re
from collections import defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "core-rs" / "src"


def module_graph() -> dict:
    """{top-level module: {module it uses: [files that use it]}} from `crate::name` paths
    (comments, macro invocations `crate::name!` and the unit-test modules left out)."""
    graph: dict = defaultdict(lambda: defaultdict(list))
    for path in SRC.rglob("*.rs"):
        rel = path.relative_to(SRC)
        top = rel.parts[0].removesuffix(".rs")
        if top in ("lib", "main"):
            continue
        src = re.sub(r"//.*", "", path.read_text())
        src = re.sub(r"#\[cfg\(test\)\]\s*mod tests\s*\{.*", "", src, flags=re.S)
        used = set(re.findall(r"crate::(\w+)\b(?!!)", src))
        for group in re.findall(r"use crate::\{([^;]*)\}", src, flags=re.S):
            used |= set(re.findall(r"(?:^|[,{\s])(\w+)(?=::|\s*[,}]|\s*$)", group))
        graph[top]
        for dep in used - {top}:
            graph[top][dep].append(str(rel))
    modules = set(graph)
    return {m: {d: files for d, files in deps.items() if d in modules} for m, deps in graph.items()}


def cycles(graph: dict) -> list:
    """The strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]

    def visit(v):
        index[v] = low[v] = counter[0]
        counter[0] += 1
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return out


def test_the_checker_finds_a_loop():
    assert cycles({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}, "d": {"a": []}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b": []}, "b": {}}) == []


def test_core_modules_form_no_loop():
    graph = module_graph()
    assert {"tensor", "dispatch", "ops", "autograd", "backend", "py"} <= set(graph)
    found = cycles(graph)
    detail = [f"{a} -> {b}: {graph[a][b]}" for comp in found for a in comp for b in graph[a] if b in comp]
    assert not found, "import loops among core modules:\n" + "\n".join(detail)


def test_nothing_below_the_bindings_uses_them():
    graph = module_graph()
    users = {m: deps["py"] for m, deps in graph.items() if "py" in deps}
    assert not users, f"modules reaching up to the bindings: {users}"


def test_layers_point_down():
    """The order DESIGN.md gives: tensor below the backends, the dispatcher above them, the
    ops above the dispatcher, the autograd engine above the ops."""
    graph = module_graph()
    for low, high in [("tensor", "backend"), ("backend", "dispatch"), ("dispatch", "ops"), ("ops", "autograd")]:
        assert low in graph[high], f"{high} is expected to use {low}"
        assert high not in graph[low], f"{low} uses {high}: {graph[low][high]}"
