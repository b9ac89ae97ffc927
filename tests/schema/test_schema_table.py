"""Schema inference, JSON round trip, user edits and validation errors."""

from __future__ import annotations

import pandas as pd
import pytest

from clinisynth.errors import SchemaError
from clinisynth.schema import TableSchema, infer_schema


def test_inferred_kinds(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    kinds = {c.name: c.kind for c in schema.columns}
    assert kinds == {"age": "integer", "bmi": "continuous", "lab": "continuous",
                     "sex": "binary", "smoker": "binary", "stage": "categorical",
                     "site": "categorical", "const": "integer", "outcome": "binary"}
    assert schema.target == "outcome"
    assert schema.classes == ["No", "Yes"]
    assert schema["const"].is_constant
    assert schema["lab"].missing_rate == pytest.approx(mixed_table["lab"].isna().mean())
    assert schema["age"].min == mixed_table["age"].min()
    assert schema["stage"].categories == [1.0, 2.0, 3.0, 4.0]


def test_json_round_trip_and_edit(mixed_table, tmp_path):
    schema = infer_schema(mixed_table, "outcome")
    path = tmp_path / "schema.json"
    schema.to_json(path)
    again = TableSchema.from_json(path)
    assert again.to_dict() == schema.to_dict()
    # a user widens a range and declares a column categorical
    data = again.to_dict()
    for col in data["columns"]:
        if col["name"] == "age":
            col["min"], col["max"] = 0, 120
    edited = TableSchema.from_dict(data)
    edited.validate(mixed_table)
    assert edited["age"].max == 120


def test_validate_names_the_column(mixed_table):
    schema = infer_schema(mixed_table, "outcome")
    with pytest.raises(SchemaError, match="'extra' is in the data but not in the schema"):
        schema.validate(mixed_table.assign(extra=1))
    with pytest.raises(SchemaError, match="'site' is in the schema but not in the data"):
        schema.validate(mixed_table.drop(columns="site"))
    bad = mixed_table.copy()
    bad.loc[0, "site"] = "west"
    with pytest.raises(SchemaError, match="column 'site' has value 'west'"):
        schema.validate(bad)


def test_invalid_schema_documents():
    base = {"target": "y", "columns": [
        {"name": "x", "kind": "continuous", "dtype": "float64", "min": 0, "max": 1},
        {"name": "y", "kind": "binary", "dtype": "int64", "categories": [0, 1]}]}
    TableSchema.from_dict(base)
    wrong_kind = {**base, "columns": [{**base["columns"][0], "kind": "weird"}, base["columns"][1]]}
    with pytest.raises(SchemaError, match="kind 'weird'"):
        TableSchema.from_dict(wrong_kind)
    with pytest.raises(SchemaError, match="target column 'z'"):
        TableSchema.from_dict({**base, "target": "z"})
    with pytest.raises(SchemaError, match="not valid JSON"):
        TableSchema.from_json("{oops")


@pytest.mark.parametrize("frame, target, message", [
    (pd.DataFrame({"a": [1, 2], "y": [0, 1]}), "nope", "target column 'nope' not found"),
    (pd.DataFrame({"a": [1, 2, 3], "y": [1, 1, 1]}), "y", "single class"),
    (pd.DataFrame({"a": [None, None], "y": [0, 1]}, dtype=float), "y", "'a' is entirely missing"),
    (pd.DataFrame({"a": ["1.5", "2.5", "x", "3.5", "4.5", "5.5", "6.5", "7.5", "8.5", "9.5",
                         "10.5"], "y": [0, 1] * 5 + [0]}), "y", "'a' should be numeric"),
    (pd.DataFrame({"a": [1.0, 2.0], "y": [0, None]}), "y", "missing values"),
    (pd.DataFrame({"y": [0, 1]}).iloc[:0], "y", "no rows"),
])
def test_inference_errors(frame, target, message):
    with pytest.raises(SchemaError, match=message):
        infer_schema(frame, target)


def test_duplicate_column_names():
    frame = pd.DataFrame([[1, 2, 0], [3, 4, 1]], columns=["a", "a", "y"])
    with pytest.raises(SchemaError, match="duplicate column name 'a'"):
        infer_schema(frame, "y")
