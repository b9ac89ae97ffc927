"""The safe expression parser: values, names, and hostile inputs rejected in one line."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from clinisynth.errors import ClinisynthError
from clinisynth.expressions import MAX_DEPTH, ExpressionError, parse, quote

COLS = {"a": np.array([1.0, 4.0, np.nan]), "b": np.array([2.0, 2.0, 1.0]),
        "mean radius": np.array([10.0, 20.0, 30.0]), "lambda": np.array([0.5, 1.0, 2.0])}


@pytest.mark.parametrize(("text", "expected"), [
    ("a + b", [3.0, 6.0, np.nan]),
    ("a - b * 2", [-3.0, 0.0, np.nan]),
    ("(a + b) / b", [1.5, 3.0, np.nan]),
    ("-a ** 2", [-1.0, -16.0, np.nan]),
    ("`mean radius` / (b / 100) ** 2", [25000.0, 50000.0, 300000.0]),
    ("`lambda` * 2", [1.0, 2.0, 4.0]),
    ("abs(b - 3) + sqrt(a)", [2.0, 3.0, np.nan]),
    ("max(a, b, 3) + min(b, 1.5)", [4.5, 5.5, 4.0]),
    ("round(`lambda` / 3, 2)", [0.17, 0.33, 0.67]),
    ("log(exp(b))", [2.0, 2.0, 1.0]),
    ("a <= b", [1.0, 0.0, np.nan]),
    ("a < b and b == 2", [1.0, 0.0, np.nan]),
    ("not a > b or b != 2", [1.0, 0.0, np.nan]),
    ("1 < b <= 2", [1.0, 1.0, 0.0]),
    ("2.5e1", [25.0]),
])
def test_values(text: str, expected: list[float]) -> None:
    got = np.broadcast_to(parse(text, set(COLS)).evaluate(COLS), (len(expected),))
    np.testing.assert_allclose(got, expected, rtol=1e-12, equal_nan=True)


def test_columns_are_listed_once_in_order() -> None:
    assert parse("b + `mean radius` * b - a", set(COLS)).columns == ("b", "mean radius", "a")


@pytest.mark.parametrize("name", ["x", "mean radius", "lambda", "alk.phos", "flc.grp", "_x",
                                  "max", "2nd", "a-b"])
def test_quote_round_trips(name: str) -> None:
    assert parse(quote(name)).columns == (name,)


@pytest.mark.parametrize(("text", "fragment"), [
    ("__import__('os')", "calling '__import__'"),
    ("__import__('os').system('true')", "calling this"),
    ("a.__class__", "attribute access"),
    ("`a`.real", "attribute access"),
    ("(lambda: 1)()", "calling this"),
    ("lambda: 1", "lambda"),
    ("a[0]", "indexing"),
    ("[a, b]", "List"),
    ("{'a': 1}", "Dict"),
    ("'text'", "literal"),
    ("True", "literal"),
    ("a if b else 1", "conditional expression"),
    ("(x := 1)", "assignment"),
    ("eval('1')", "calling 'eval'"),
    ("open('/etc/passwd')", "calling 'open'"),
    ("getattr(a, 'b')", "calling 'getattr'"),
    ("round(a, ndigits=1)", "keyword argument"),
    ("max(*a, b)", "starred"),
    ("sqrt(a, b)", "2 arguments"),
    ("a @ b", "MatMult"),
    ("a // b", "FloorDiv"),
    ("a in b", "comparison"),
    ("[x for x in a]", "ListComp"),
    ("_secret", "names starting with '_'"),
    ("sqrt", "without a call"),
    ("a +", "syntax error"),
    ("(a", "syntax error"),
    ("`a", "unmatched backtick"),
    ("", "empty"),
    ("1" + "+1" * 100, "nested more than"),
    ("-" * 100 + "1", "nested more than"),
    ("a" * 2000, "characters long"),
])
def test_hostile_or_bad_input_is_one_line_error(text: str, fragment: str) -> None:
    with pytest.raises(ExpressionError) as info:
        parse(text, where="rule 7 (formula)")
    message = str(info.value)
    assert fragment in message and message.startswith("rule 7 (formula):")
    assert "\n" not in message and isinstance(info.value, ClinisynthError)


def test_error_position_points_at_the_culprit() -> None:
    with pytest.raises(ExpressionError, match="position 14"):
        parse("x + `a b` + y.z")
    with pytest.raises(ExpressionError, match="unknown column 'c'"):
        parse("a + c", {"a", "b"})


def test_depth_limit_is_generous_enough_for_real_formulas() -> None:
    text = "a" + " + a" * (MAX_DEPTH - 1)
    assert parse(text).evaluate({"a": np.array([1.0])})[0] == MAX_DEPTH


def test_overflow_is_a_value_not_a_hang() -> None:
    assert np.isinf(parse("9 ** 9 ** 9").evaluate({}))


@settings(max_examples=150, deadline=None)
@given(st.text(alphabet=st.characters(max_codepoint=0x7f), max_size=60))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        expr = parse(text)
    except ExpressionError as exc:
        assert "\n" not in str(exc)
        return
    columns = {c: np.array([1.0, 2.0]) for c in expr.columns}
    np.asarray(expr.evaluate(columns), dtype=float)
