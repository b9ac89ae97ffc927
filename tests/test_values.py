"""Category keys computed once per distinct value equal the cell-by-cell definition."""

import numpy as np
import pandas as pd
import pytest

from clinisynth.values import category_codes, category_key, category_keys, factorized_keys


def cell_by_cell(series: pd.Series) -> list:
    return [None if pd.isna(v) else category_key(v) for v in series.to_numpy(dtype=object)]


@pytest.mark.parametrize("series", [
    pd.Series([1, 1.0, True, np.int64(1), None, np.nan, pd.NA, "1", False, 0], dtype=object),
    pd.Series([1.5, 2.0, np.nan, 2.0]),
    pd.Series([True, False, True]),
    pd.Series(pd.to_datetime(["2020-01-01", None, "2020-01-01"])),
    pd.Series(["a", None, "b", "a"], dtype="category"),
    pd.Series([1, None, 3], dtype="Int64"),
    pd.Series(["x", None], dtype="string"),
    pd.Series([], dtype=object),
], ids=["mixed", "float", "bool", "dates", "category", "Int64", "string", "empty"])
def test_keys_match_the_cell_by_cell_definition(series: pd.Series) -> None:
    assert category_keys(series) == cell_by_cell(series)


def test_a_boolean_is_not_merged_with_the_number_it_equals() -> None:
    codes, keys = factorized_keys(pd.Series([True, 1, 1.0, False, 0], dtype=object))
    assert [keys[c] for c in codes] == [("b", True), ("n", 1.0), ("n", 1.0), ("b", False),
                                        ("n", 0.0)]


def test_codes_index_the_categories_by_key() -> None:
    series = pd.Series([2, "dead", None, 2.0, 7], dtype=object)
    assert category_codes(series, [2, "dead"]).tolist() == [0, 1, -1, 0, 2]
