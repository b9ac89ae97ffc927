"""A child column's dynamics: transient spikes stay transient (issue 28, lag-1 per lab)."""

import numpy as np
import pandas as pd
import pytest

from clinisynth.audit.linked import lag1
from clinisynth.linked.sequence import ChildModel
from clinisynth.schema.links import ChildLink

LINK = ChildLink(table="visits", key="id", order="t")


def spiky_visits(seed: int, patients: int = 400, visits: int = 8) -> pd.DataFrame:
    """A persistent lab (AR(1) with coefficient 0.85 in log scale) that 6 % of visits record
    2.5 times too high, for that visit only: a spike pulls Pearson's lag-1 toward 0, while the
    ranks stay persistent."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patients):
        z = rng.normal()
        for t in range(visits):
            z = 0.85 * z + np.sqrt(1 - 0.85**2) * rng.normal()
            x = 10 + np.exp(0.3 * z)
            rows.append((p, t, round(x * (2.5 if rng.random() < 0.06 else 1.0), 2)))
    return pd.DataFrame(rows, columns=["id", "t", "lab"])


def sample_like(real: pd.DataFrame, hinges: bool, seed: int) -> pd.DataFrame:
    groups = real["id"].to_numpy()
    model = ChildModel(["lab"], [], k=5, hinges=hinges)
    model.fit(real[["lab"]], groups, np.zeros((len(real), 1)), None)
    n = real.groupby("id").size().to_numpy()
    first = real.groupby("id")[["lab"]].first().reset_index(drop=True)  # the hybrid's part
    out, owner, _ = model.sample(first, n, np.zeros((len(n), 1)), np.random.default_rng(seed))
    out["id"] = owner
    return out


@pytest.mark.parametrize("seed", [0, 1])
def test_a_spike_at_one_visit_is_gone_at_the_next(seed: int) -> None:
    real = spiky_visits(seed)
    assert abs(lag1(real, LINK, "lab")) < 0.05  # the spikes hide the persistence
    fake = sample_like(real, hinges=True, seed=seed)
    assert abs(lag1(fake, LINK, "lab") - lag1(real, LINK, "lab")) < 0.15
    # a model linear in the previous score makes every spike persist (the check can fail)
    linear = sample_like(real, hinges=False, seed=seed)
    assert lag1(linear, LINK, "lab") - lag1(real, LINK, "lab") > 0.2


def test_the_audit_sets_aside_what_value_protection_removes() -> None:
    """Three one-visit spikes beyond every other value: they pull the real lag-1 down, and the
    audit's ``training_protected`` lag-1 (clipped to the 5th smallest and largest values) does
    not count them, as a protected generator cannot write them."""
    from clinisynth.audit.linked import _protected

    real = spiky_visits(0).copy()
    real["lab"] = real["lab"].clip(upper=13.0)  # no spikes left but the planted ones
    real.loc[[5, 805, 1605], "lab"] = [90.0, 95.0, 99.0]
    clipped = _protected(real, "lab", 5)
    top = np.sort(real["lab"].to_numpy())[-5]
    assert clipped["lab"].max() == top < 90.0
    assert lag1(clipped, LINK, "lab") > lag1(real, LINK, "lab") + 0.2


def ar_visits(seed: int, rho: float, patients: int = 150, visits: int = 6) -> pd.DataFrame:
    """A lab following an AR(1) with coefficient ``rho``; 10 % of cells missing."""
    rng = np.random.default_rng(seed)
    rows = []
    for p in range(patients):
        z = rng.normal()
        for t in range(visits):
            z = rho * z + np.sqrt(1 - rho**2) * rng.normal()
            rows.append((p, t, z if rng.random() > 0.1 else np.nan))
    return pd.DataFrame(rows, columns=["id", "t", "lab"])


def test_the_lag1_gap_interval_holds_a_fresh_draw_and_not_another_process() -> None:
    """The audit's interval of lag1(synthetic) - lag1(holdout) over resampled patients holds 0
    for fresh patients of the same process and excludes it for a less persistent one."""
    from clinisynth.audit.linked import lag1_gap

    holdout = ar_visits(0, 0.7)
    same = lag1_gap(holdout, ar_visits(1, 0.7), LINK, "lab", np.random.default_rng(0))
    assert same["gap"] == pytest.approx(lag1(ar_visits(1, 0.7), LINK, "lab")
                                        - lag1(holdout, LINK, "lab"))
    assert same["low"] < 0 < same["high"]
    other = lag1_gap(holdout, ar_visits(1, 0.4), LINK, "lab", np.random.default_rng(0))
    assert other["high"] < 0
    # more patients, a narrower interval (about 1/sqrt(4) as wide)
    wide = same["high"] - same["low"]
    big = lag1_gap(ar_visits(2, 0.7, 600), ar_visits(3, 0.7, 600), LINK, "lab",
                   np.random.default_rng(0))
    assert 0.3 < (big["high"] - big["low"]) / wide < 0.7
