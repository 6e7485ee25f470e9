"""A comparison's levels compiled into one Python function: the real-time scorer's inner loop without its calls.

A level's test is built from small closures (``_eq``, ``_any``, ``_all`` of
:mod:`mpi.matching.levels`), one call each, and a pair's level is the first of a
dozen such tests that holds: at a million persons a match evaluates about 160
comparisons, and the calls between the closures were a third of it. Each
building block therefore also carries its test as Python source (``expr``, over
``l`` and ``r``); this module writes one function per comparison from them: the
dispatch, then each level's test inline, in order, returning the first level
that holds. A test without source (a function of its own, such as ``_alias``)
is called from the generated code, and a test several levels ask
(``_per_pair``) is computed at most once per call, in a local.

The generated function answers as :meth:`Comparison.interpreted_level_of` does:
``tests/test_compiled_levels.py`` holds them equal over generated pairs.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mpi.matching.levels import Comparison

LevelOf = Callable[[Any, Any], int]


class _Writer:
    """The source of one generated function and the names it refers to."""

    def __init__(self) -> None:
        self.names: dict[str, Any] = {}
        self.lazy: list[str] = []
        self._ids: dict[int, str] = {}
        self._once: dict[int, str] = {}
        self._count = itertools.count()

    def bind(self, value: Any) -> str:
        """A name for a value the generated code calls (one name per object)."""
        name = self._ids.get(id(value))
        if name is None:
            name = self._ids[id(value)] = f"_f{next(self._count)}"
            self.names[name] = value
        return name

    def expr(self, test: Callable) -> str:
        """A test as an expression over ``l`` and ``r``: its source, or a call of it."""
        source = getattr(test, "expr", None)
        if source is None:
            return f"{self.bind(test)}(l, r)"
        self.names.update(getattr(test, "binds", {}))
        inline = source.format(*(self.expr(p) for p in getattr(test, "parts", ())))
        if not getattr(test, "once", False):
            return inline
        # Asked by several levels: computed the first time, then read from a local of this call.
        local = self._once.get(id(test))
        if local is None:
            local = self._once[id(test)] = f"_once{len(self.lazy)}"
            self.lazy.append(local)
        return f"({local} if {local} is not None else ({local} := bool({inline})))"


def compile_levels(comparison: Comparison) -> LevelOf:
    """One function of a pair that returns the index of its comparison's first level that holds."""
    writer = _Writer()
    last = len(comparison.levels) - 1
    body: list[str] = []

    def tests(indexed, indent: str) -> None:
        for i, level in indexed:
            body.append(f"{indent}if {writer.expr(level.test)}: return {i}")
        body.append(f"{indent}return {last}")

    if comparison.dispatch is not None:
        plans, rest = comparison._plans
        body.append(f"    _d = {writer.bind(comparison.dispatch)}(l, r)")
        for value, indexed in plans.items():
            body.append(f"    if _d == {value!r}:")
            tests(indexed, "        ")
        tests(rest, "    ")
    else:
        tests(enumerate(comparison.levels), "    ")
    head = [f"    {' = '.join(writer.lazy)} = None"] if writer.lazy else []
    source = "\n".join([f"def level_of(l, r):  # {comparison.name}", *head, *body])
    namespace = dict(writer.names)
    exec(compile(source, f"<levels of {comparison.name}>", "exec"), namespace)  # noqa: S102 (our own source)
    level_of = namespace["level_of"]
    level_of.source = source
    return level_of
