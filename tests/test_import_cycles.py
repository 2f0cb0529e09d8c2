"""No module of neurosim imports, directly or through others, a module that imports it."""

import ast
from pathlib import Path

import neurosim

ROOT = Path(neurosim.__file__).resolve().parent


def _imports() -> dict[str, set[str]]:
    """Module -> neurosim modules it imports (at module level or inside functions)."""
    graph = {}
    for path in ROOT.rglob("*.py"):
        parts = path.relative_to(ROOT.parent).with_suffix("").parts
        name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
        deps = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("neurosim"):
                deps.add(node.module)
            elif isinstance(node, ast.Import):
                deps |= {a.name for a in node.names if a.name.startswith("neurosim")}
        graph[name] = deps
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Elementary cycles found by depth-first search (one per back edge)."""
    found, state, stack = [], {}, []

    def visit(node):
        state[node] = 1
        stack.append(node)
        for dep in sorted(graph.get(node, ())):
            if dep not in graph:
                continue
            if state.get(dep) == 1:
                found.append([*stack[stack.index(dep) :], dep])
            elif dep not in state:
                visit(dep)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    return found


def test_the_checker_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_neurosim_has_no_import_cycles():
    # protocol <-> runner and networks.segregated <-> bridges.segregated were
    # the last two (issue 14): the kinds registry and backprop_angles moved out.
    graph = _imports()
    assert "neurosim.protocol" in graph and "neurosim.kinds" in graph["neurosim.protocol"]
    assert _cycles(graph) == []
