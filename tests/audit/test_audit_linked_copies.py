"""Row copies of a child table: rows equal to a training row in every column but the key."""

import numpy as np
import pandas as pd

from clinisynth.audit.linked import copies_by_place, places, row_copies


def test_copies_ignore_the_key_and_compare_numbers_as_numbers():
    train = pd.DataFrame({"id": [1, 1, 2], "day": [0, 30, 0], "lab": [1.5, np.nan, 2.0]})
    other = pd.DataFrame({"id": [7, 8, 9, 9],
                          "day": [0.0, 30.0, 0.0, 45.0],   # floats where training has ints
                          "lab": [1.5, np.nan, 2.5, 1.5]})
    # row 0 equals train row 0, row 1 train row 1 (missing equals missing); rows 2-3 do not
    assert row_copies(train, other, "id") == 0.5


def test_text_columns_and_no_copies():
    train = pd.DataFrame({"id": [1, 2], "test": ["alt", "ast"], "value": [10, 20]})
    other = pd.DataFrame({"id": [3, 4], "test": ["ast", "alt"], "value": [10, 20]})
    assert row_copies(train, other, "id") == 0.0
    assert row_copies(train, train.assign(id=[5, 6]), "id") == 1.0


def test_copies_by_place_weighs_the_holdout_by_where_synthetic_rows_sit():
    # training: patient 1 has one interval (0, 10], patient 2 two, (0, 5] and (5, 9]
    train = pd.DataFrame({"id": [1, 2, 2], "start": [0, 0, 5], "stop": [10, 5, 9]})
    # holdout: a one-interval patient copying (0, 10] by coincidence, and a two-interval
    # patient whose rows copy nothing
    holdout = pd.DataFrame({"id": [3, 4, 4], "start": [0, 0, 6], "stop": [10, 6, 8]})
    # synthetic: three one-interval patients, two of them on (0, 10]; rows out of order
    synthetic = pd.DataFrame({"id": [9, 7, 8], "start": [0, 0, 0], "stop": [10, 10, 12]})
    out = copies_by_place(train, holdout, synthetic, "id", order="start")
    assert out["by_place"]["only"] == {"synthetic": 2 / 3, "holdout": 1.0,
                                       "synthetic_rows": 3, "holdout_rows": 1}
    assert out["by_place"]["first"]["holdout"] == 0.0
    # every synthetic row sits where the holdout copies all its rows: the matched floor is 1,
    # while the holdout's overall rate is 1/3
    assert out["matched"] == 1.0
    assert row_copies(train, holdout, "id") == 1 / 3
    assert list(places(holdout.iloc[[2, 0, 1]], "id")) == ["first", "only", "last"]
