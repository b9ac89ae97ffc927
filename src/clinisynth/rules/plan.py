"""Graph helpers of the rules step's plan: dependency paths, the order derived columns are
computed in, and the order of the columns inequality rules fence
(:class:`clinisynth.steps.rules.RulesStep`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from clinisynth.schema.rules import Rule


def has_path(deps: Mapping[str, Iterable[str]], starts: set[str], goal: str) -> bool:
    """Whether ``goal`` is among ``starts`` or their (transitive) dependencies."""
    stack, seen = list(starts), set()
    while stack:
        node = stack.pop()
        if node == goal:
            return True
        if node not in seen:
            seen.add(node)
            stack.extend(deps.get(node, ()))
    return False


def topological(post: list[tuple[str, int]], rules: list[Rule],
                 deps: dict[str, set[str]]) -> list[tuple[str, int]]:
    """``post`` ordered so a column is finished before anything that reads it."""
    by_column = {rules[i].column: (k, i) for k, i in post}  # type: ignore[attr-defined]
    done: list[tuple[str, int]] = []
    seen: set[str] = set()

    def visit(column: str) -> None:
        if column in seen or column not in by_column:
            return
        seen.add(column)
        for dep in sorted(deps.get(column, ())):
            visit(dep)
        done.append(by_column[column])

    for _, i in post:
        visit(rules[i].column)  # type: ignore[attr-defined]
    return done


def forest_order(columns: list[str], parents: Mapping[str, Iterable[str]]) -> list[str]:
    """Columns with every parent before its children (table order otherwise); ``parents``
    maps a column to the columns it is computed from (no cycles)."""
    done: list[str] = []
    seen: set[str] = set()

    def visit(column: str) -> None:
        if column in seen:
            return
        seen.add(column)
        for parent in parents.get(column, ()):
            visit(parent)
        done.append(column)

    for column in columns:
        visit(column)
    return done
