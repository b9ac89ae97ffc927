"""Row copies of a child table: rows equal to a training row in every column but the key."""

import numpy as np
import pandas as pd

from clinisynth.audit.linked import row_copies


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
