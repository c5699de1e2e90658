"""Fail when project modules import one another in a cycle (run by `make lint`).

import-linter's acyclic_siblings contract only compares the children of one package, so a
cycle that runs through two of the root packages (say trading_signals -> marketdata ->
trading_signals) escapes it. This check builds grimp's graph of all four root packages, every
import counted (function-level and TYPE_CHECKING ones too), leaves out migrations and tests,
and lists each strongly connected group of modules with one cycle through it.
"""

import sys
from collections.abc import Iterable
from pathlib import Path

import grimp

ROOT_PACKAGES = ("accounts", "marketdata", "signals", "trading_signals")
SKIPPED_PARTS = {"migrations", "tests"}


def _checked(module: str) -> bool:
    return not SKIPPED_PARTS & set(module.split("."))


def _imports(graph: grimp.ImportGraph, modules: set[str]) -> dict[str, set[str]]:
    return {
        module: {m for m in graph.find_modules_directly_imported_by(module) if m in modules}
        for module in modules
    }


def strongly_connected(edges: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of two or more modules, or of one that
    imports itself."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in sorted(edges):
        if root in index:
            continue
        work: list[tuple[str, Iterable[str]]] = [(root, iter(sorted(edges[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, successors = work[-1]
            for successor in successors:
                if successor not in index:
                    index[successor] = low[successor] = len(index)
                    stack.append(successor)
                    on_stack.add(successor)
                    work.append((successor, iter(sorted(edges[successor]))))
                    break
                if successor in on_stack:
                    low[node] = min(low[node], index[successor])
            else:
                work.pop()
                if work:
                    parent = work[-1][0]
                    low[parent] = min(low[parent], low[node])
                if low[node] == index[node]:
                    group = []
                    while True:
                        member = stack.pop()
                        on_stack.discard(member)
                        group.append(member)
                        if member == node:
                            break
                    if len(group) > 1 or node in edges[node]:
                        groups.append(sorted(group))
    return groups


def _one_cycle(graph: grimp.ImportGraph, group: list[str]) -> list[str]:
    """A shortest way from the group's first module back to itself, within the group."""
    first = group[0]
    best: tuple[str, ...] | None = None
    for imported in sorted(graph.find_modules_directly_imported_by(first)):
        if imported not in group:
            continue
        back = graph.find_shortest_chain(importer=imported, imported=first)
        if back is not None and (best is None or len(back) < len(best)):
            best = back
    return [first, *(best or (first,))]


def main() -> int:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    graph = grimp.build_graph(*ROOT_PACKAGES)
    modules = {module for module in graph.modules if _checked(module)}
    groups = strongly_connected(_imports(graph, modules))
    if not groups:
        print(f"No import cycles among {len(modules)} modules of {', '.join(ROOT_PACKAGES)}.")
        return 0
    for group in groups:
        print(f"Import cycle among {len(group)} modules: {', '.join(group)}")
        print("  e.g. " + " -> ".join(_one_cycle(graph, group)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
