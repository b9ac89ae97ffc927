"""A small table with planted rules of every family, for the rules tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def make_planted(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Columns with known rules: ``sbp >= dbp``; ``bmi = weight / (height/100)**2`` (to 0.1);
    ``total = first + second``; ``agegrp`` bins ``age`` at 40 and 65; ``region`` maps ``site``;
    ``cause`` is missing exactly when ``died == "no"``; ``visits`` is a count; ``sex = M`` never
    meets ``pregnant = yes``; ``noise*`` columns carry no rule."""
    rng = np.random.default_rng(seed)
    dbp = rng.normal(80, 10, n).round(0)
    sbp = dbp + rng.gamma(4.0, 10.0, n).round(0)
    height = rng.normal(170, 9, n).round(0)
    weight = rng.normal(75, 12, n).round(1)
    age = rng.integers(20, 90, n)
    first = rng.integers(0, 10, n)
    second = rng.integers(0, 6, n)
    sex = rng.choice(["F", "M"], n)
    pregnant = np.where(sex == "F", rng.choice(["no", "yes"], n, p=[0.6, 0.4]), "no")
    site = rng.choice(["a", "b", "c", "d"], n)
    died = np.where(rng.random(n) < 0.35, "yes", "no")
    cause = np.where(died == "yes", rng.choice(["heart", "cancer", "other"], n), None)
    return pd.DataFrame({
        "age": age,
        "agegrp": np.select([age < 40, age < 65], ["young", "middle"], "old"),
        "sbp": sbp, "dbp": dbp, "height": height, "weight": weight,
        "bmi": (weight / (height / 100) ** 2).round(1),
        "first": first, "second": second, "total": first + second,
        "sex": sex, "pregnant": pregnant, "site": site,
        "region": pd.Series(site).map({"a": "north", "b": "north", "c": "south", "d": "east"}),
        "noise1": rng.normal(0, 1, n).round(3), "noise2": rng.gamma(2, 1, n).round(2),
        "visits": rng.poisson(3, n),
        "cause": cause, "died": died,
    })
