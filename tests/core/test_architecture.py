"""The layering holds: no import cycle inside `gova`, a pure engine, an API without the worker.

Read from the source with grimp (import-linter's graph), so an import inside a function
counts as much as one at the top of a module.
"""

from __future__ import annotations

import subprocess
import sys

import grimp
import pytest

GRAPH = grimp.build_graph("gova", include_external_packages=True)
INFRASTRUCTURE = ("faust", "mode", "aiokafka", "asyncpg", "redis", "fastapi", "starlette")
#: The plumbing the engine's effects are applied by, which it must not reach for itself.
PLUMBING = ("gova.worker", "gova.storage", "gova.api", "gova.cache", "gova.runners")


def _cycles(graph: grimp.ImportGraph, modules: set[str]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), as sorted lists."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(start: str) -> None:
        # Iterative, so a deep import chain cannot hit the recursion limit.
        work = [(start, iter(sorted(graph.find_modules_directly_imported_by(start) & modules)))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is None:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    component = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                        if member == node:
                            break
                    if len(component) > 1:
                        found.append(sorted(component))
            elif child not in index:
                index[child] = low[child] = len(index)
                stack.append(child)
                on_stack.add(child)
                imported = graph.find_modules_directly_imported_by(child) & modules
                work.append((child, iter(sorted(imported))))
            elif child in on_stack:
                low[node] = min(low[node], index[child])

    for module in sorted(modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_inside_gova():
    modules = {m for m in GRAPH.modules if m == "gova" or m.startswith("gova.")}
    assert _cycles(GRAPH, modules) == []


def test_the_cycle_finder_finds_cycles():
    graph = grimp.ImportGraph()
    for module in ("a", "b", "c", "d"):
        graph.add_module(module)
    graph.add_import(importer="a", imported="b")
    graph.add_import(importer="b", imported="c")
    graph.add_import(importer="c", imported="a")
    graph.add_import(importer="c", imported="d")
    assert _cycles(graph, {"a", "b", "c", "d"}) == [["a", "b", "c"]]


@pytest.mark.parametrize("package", INFRASTRUCTURE + PLUMBING)
def test_the_engine_imports_no_infrastructure(package):
    chain = GRAPH.find_shortest_chain(importer="gova.core", imported=package, as_packages=True)
    assert chain is None, f"gova.core reaches {package}: {' -> '.join(chain)}"


@pytest.mark.parametrize("package", ["gova.worker", "faust", "mode"])
def test_the_api_does_not_import_the_worker(package):
    chain = GRAPH.find_shortest_chain(importer="gova.api", imported=package, as_packages=True)
    assert chain is None, f"gova.api reaches {package}: {' -> '.join(chain)}"


def test_the_faust_app_module_imports_no_stage():
    imported = GRAPH.find_modules_directly_imported_by("gova.worker.app")
    assert not {m for m in imported if m.startswith("gova.worker.")}


def test_gova_api_command_never_builds_the_faust_app():
    # What really loads, not only what the source says: `gova api`'s imports, then a check.
    code = (
        "import sys, gova.cli, gova.api.server, gova.api.app; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('faust', 'mode')"
        " or m.startswith('gova.worker')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True
    )
    assert out.stdout.strip() == "[]"
