"""A safe expression language for rules: arithmetic over columns, evaluated on whole columns.

Grammar (a strict subset of Python's expression syntax, checked node by node)::

    expr     := expr op expr | -expr | +expr | not expr | (expr) | expr cmp expr [cmp expr ...]
              | expr and expr | expr or expr | number | column | func(expr, ...)
    op       := + - * / **
    cmp      := < <= > >= == !=
    column   := a bare identifier (``bmi``) or any name in backticks (```mean radius```)
    func     := abs min max log exp sqrt round

The text is parsed by :func:`ast.parse` in ``eval`` mode and every node is checked against a
whitelist; anything else (attribute access, subscripts, calls of other names, lambdas,
comprehensions, strings, keywords) is rejected with a one-line :class:`ExpressionError` that
gives the character position. Nothing is ever passed to ``eval``/``exec``; evaluation walks the
checked tree and applies numpy functions to float arrays, so an expression can reach columns and
the seven functions and nothing else. Lengths and nesting depth are capped.
"""

from __future__ import annotations

import ast
import keyword
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import reduce

import numpy as np

from clinisynth.errors import ClinisynthError

#: longest expression text accepted, in characters
MAX_LENGTH = 1000
#: deepest nesting of the parsed tree
MAX_DEPTH = 40

FUNCTIONS: dict[str, tuple[Callable[..., np.ndarray], int, int]] = {
    # name: (function, fewest arguments, most arguments)
    "abs": (np.abs, 1, 1),
    "min": (lambda *a: reduce(np.fmin, a), 2, 8),
    "max": (lambda *a: reduce(np.fmax, a), 2, 8),
    "log": (np.log, 1, 1),
    "exp": (np.exp, 1, 1),
    "sqrt": (np.sqrt, 1, 1),
    "round": (lambda x, d=0.0: np.round(x, int(np.asarray(d).flat[0])), 1, 2),
}
_BINARY = {ast.Add: np.add, ast.Sub: np.subtract, ast.Mult: np.multiply,
           ast.Div: np.divide, ast.Pow: np.power}
_COMPARE = {ast.Lt: np.less, ast.LtE: np.less_equal, ast.Gt: np.greater,
            ast.GtE: np.greater_equal, ast.Eq: np.equal, ast.NotEq: np.not_equal}
_BACKTICK = re.compile(r"`([^`]*)`")
_LABELS = {"Attribute": "attribute access", "Subscript": "indexing", "Lambda": "a lambda",
           "IfExp": "a conditional expression", "Starred": "a starred expression",
           "NamedExpr": "assignment", "JoinedStr": "a string", "Await": "await"}
_IDENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class ExpressionError(ClinisynthError):
    """An expression that does not parse or uses something outside the whitelist."""


def quote(name: str) -> str:
    """A column name as it is written in an expression (backticks unless a plain identifier)."""
    if "`" in name:
        raise ExpressionError(f"column name {name!r} contains a backtick")
    return name if _IDENT.match(name) and name not in FUNCTIONS and not keyword.iskeyword(
        name) and not name.startswith("_") else f"`{name}`"


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression; :meth:`evaluate` maps columns to one float array."""

    text: str
    columns: tuple[str, ...]
    _tree: ast.expr = field(repr=False, compare=False)
    _names: dict[str, str] = field(repr=False, compare=False)

    def evaluate(self, columns: Mapping[str, np.ndarray] | object) -> np.ndarray:
        """Value per row; ``columns`` is a DataFrame or a mapping name -> array (NaN = missing).

        Comparisons and ``and``/``or``/``not`` give 1.0 / 0.0; missing inputs give NaN.
        """
        with np.errstate(all="ignore"):
            return np.asarray(_eval(self._tree, self._names, columns), dtype=float)


def parse(text: str, known: set[str] | None = None, where: str = "expression") -> Expression:
    """Parse and check ``text``; ``known`` (if given) is the set of valid column names.

    ``where`` names the rule or option in error messages (``"rule 3 (formula bmi)"``).
    """
    if not isinstance(text, str):
        raise ExpressionError(f"{where}: expression must be a string, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"{where}: expression is {len(text)} characters long "
                              f"(at most {MAX_LENGTH})")
    if text.count("`") % 2:
        raise ExpressionError(f"{where}: unmatched backtick at position {text.rfind('`') + 1}")
    names: dict[str, str] = {}
    pieces: list[str] = []
    origin: list[int] = []  # origin[i]: 0-based position in ``text`` of ``source[i]``
    last = 0
    for match in _BACKTICK.finditer(text):
        pieces.append(text[last:match.start()])
        origin.extend(range(last, match.start()))
        token = f"_bq{len(names)}_"
        names[token] = match.group(1)
        pieces.append(token)
        origin.extend([match.start()] * len(token))
        last = match.end()
    pieces.append(text[last:])
    origin.extend(range(last, len(text) + 1))
    source = "".join(pieces)
    lead = len(source) - len(source.lstrip())

    def position(col: int) -> int:
        """1-based position in the user's text of a 0-based offset in the stripped source."""
        return origin[min(max(col + lead, 0), len(origin) - 1)] + 1

    if len(text.strip()) == 0:
        raise ExpressionError(f"{where}: expression is empty")
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        pos = position((exc.offset or 1) - 1)
        raise ExpressionError(f"{where}: syntax error at position {pos}: {exc.msg}") from None
    except (RecursionError, MemoryError, ValueError):
        raise ExpressionError(f"{where}: expression is too deeply nested") from None
    used: list[str] = []
    _check(tree.body, names, used, position, where, depth=0)
    for name in used:
        if known is not None and name not in known:
            raise ExpressionError(f"{where}: unknown column '{name}'")
    columns = tuple(dict.fromkeys(used))
    return Expression(text=text, columns=columns, _tree=tree.body, _names=names)


def _check(node: ast.AST, names: dict[str, str], used: list[str],
           position: Callable[[int], int], where: str, depth: int) -> None:
    """Raise unless every node under ``node`` is whitelisted; collect column names."""
    offset = getattr(node, "col_offset", 0)
    if isinstance(node, ast.Attribute):  # point at the dot, not at the start of the value
        offset = getattr(node.value, "end_col_offset", offset) or offset
    pos = position(offset)
    if depth > MAX_DEPTH:
        raise ExpressionError(f"{where}: expression is nested more than {MAX_DEPTH} deep "
                              f"(position {pos})")

    def fail(what: str) -> None:
        raise ExpressionError(f"{where}: {what} is not allowed (position {pos})")

    def sub(child: ast.AST) -> None:
        _check(child, names, used, position, where, depth + 1)

    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int | float):
            fail(f"the literal {node.value!r}")
    elif isinstance(node, ast.Name):
        if node.id in FUNCTIONS:
            fail(f"the function name '{node.id}' without a call")
        if node.id.startswith("_") and node.id not in names:
            fail(f"the name '{node.id}' (names starting with '_' need backticks)")
        used.append(names.get(node.id, node.id))
    elif isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            fail(f"the operator '{type(node.op).__name__}'")
        sub(node.left)
        sub(node.right)
    elif isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, ast.USub | ast.UAdd | ast.Not):
            fail(f"the operator '{type(node.op).__name__}'")
        sub(node.operand)
    elif isinstance(node, ast.Compare):
        if any(type(op) not in _COMPARE for op in node.ops):
            fail("this comparison ('in'/'is')")
        sub(node.left)
        for child in node.comparators:
            sub(child)
    elif isinstance(node, ast.BoolOp):
        for child in node.values:
            sub(child)
    elif isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name) or func.id not in FUNCTIONS:
            label = f"'{func.id}'" if isinstance(func, ast.Name) else "this"
            fail(f"calling {label} (functions: {', '.join(FUNCTIONS)})")
        assert isinstance(func, ast.Name)
        if node.keywords:
            fail(f"a keyword argument to '{func.id}'")
        _, lo, hi = FUNCTIONS[func.id]
        if not lo <= len(node.args) <= hi:
            fail(f"calling '{func.id}' with {len(node.args)} arguments")
        for child in node.args:
            if isinstance(child, ast.Starred):
                fail("a starred argument")
            sub(child)
    else:
        kind = type(node).__name__
        fail(_LABELS.get(kind, f"'{kind}' syntax"))


def _eval(node: ast.AST, names: dict[str, str], columns: object) -> np.ndarray | float:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        name = names.get(node.id, node.id)
        return np.asarray(columns[name], dtype=float)  # type: ignore[index]
    if isinstance(node, ast.BinOp):
        return _BINARY[type(node.op)](_eval(node.left, names, columns),
                                      _eval(node.right, names, columns))
    if isinstance(node, ast.UnaryOp):
        value = _eval(node.operand, names, columns)
        if isinstance(node.op, ast.USub):
            return np.negative(value)
        if isinstance(node.op, ast.Not):
            return _logical(np.logical_not(_truth(value)), value)
        return value
    if isinstance(node, ast.Compare):
        left = _eval(node.left, names, columns)
        result: np.ndarray | float = 1.0
        nan = np.isnan(left)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, names, columns)
            nan = nan | np.isnan(right)
            result = np.logical_and(result, _COMPARE[type(op)](left, right))
            left = right
        return np.where(nan, np.nan, np.asarray(result, dtype=float))
    if isinstance(node, ast.BoolOp):
        values = [_eval(v, names, columns) for v in node.values]
        combine = np.logical_and if isinstance(node.op, ast.And) else np.logical_or
        out = _truth(values[0])
        nan = np.isnan(values[0])
        for value in values[1:]:
            out = combine(out, _truth(value))
            nan = nan | np.isnan(value)
        return np.where(nan, np.nan, out.astype(float))
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
    func = FUNCTIONS[node.func.id][0]
    return func(*[_eval(a, names, columns) for a in node.args])


def _truth(value: np.ndarray | float) -> np.ndarray:
    return np.asarray(value, dtype=float) != 0.0


def _logical(result: np.ndarray, like: np.ndarray | float) -> np.ndarray:
    return np.where(np.isnan(like), np.nan, result.astype(float))
