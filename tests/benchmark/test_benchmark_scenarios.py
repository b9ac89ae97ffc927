"""Training scenarios and the data-scarcity curve."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from bench_fakes import FAST, fake_audit, tiny_table

from clinisynth.benchmark import BenchmarkOptions, run_grid, split_table
from clinisynth.benchmark.scenarios import FRACTIONS, nested_samples, run_scenarios, score
from conftest import make_mixed_table

NAMED = ["train-real", "train-synthetic", "train-mixed", "augmentation"]


@pytest.fixture(scope="module")
def split():
    return split_table(make_mixed_table(n=240, seed=2), "outcome", seed=0)


def bootstrap(sample: pd.DataFrame, n: int) -> pd.DataFrame:
    """A stand-in synthesizer: resample the rows it was given."""
    return sample.sample(n=n, replace=True, random_state=len(sample)).reset_index(drop=True)


def test_nested_stratified_samples(split):
    train, _ = split
    samples = nested_samples(train, "outcome", FRACTIONS, seed=1)
    sizes = [len(samples[f]) for f in FRACTIONS]
    assert sizes == sorted(sizes) and sizes[-1] == len(train)
    for small, big in zip(FRACTIONS, FRACTIONS[1:], strict=False):
        merged = samples[small].merge(samples[big], how="left", indicator=True)
        assert (merged["_merge"] == "both").all()  # each sample holds the smaller ones
    counts = train["outcome"].value_counts()
    tenth = samples[0.1]["outcome"].value_counts()
    for label, n in counts.items():
        assert tenth[label] == max(2, round(0.1 * n))
    other = nested_samples(train, "outcome", FRACTIONS, seed=2)[0.1]
    assert not samples[0.1].equals(other)


def test_scenarios_rows_and_consistency(split):
    train, holdout = split
    rows = pd.DataFrame(run_scenarios(train, holdout, bootstrap(train, len(train)), "outcome",
                                      seed=0, sample_fn=bootstrap))
    assert list(rows.scenario[:4]) == NAMED
    curve = rows[rows.scenario.str.startswith("scarcity")]
    assert sorted(curve.fraction.unique()) == list(FRACTIONS)
    assert len(curve) == 2 * len(FRACTIONS) and (curve.error == "").all()
    real = curve[curve.scenario == "scarcity-real"].set_index("fraction")
    aug = curve[curve.scenario == "scarcity-augmented"].set_index("fraction")
    assert list(real.n_real) == sorted(real.n_real) and (real.n_synthetic == 0).all()
    assert (aug.n_synthetic == len(train)).all() and (aug.n_real == real.n_real).all()
    named = rows.set_index("scenario")
    assert real.loc[1.0, "f1"] == named.loc["train-real", "f1"]
    assert aug.loc[1.0, "f1"] == named.loc["train-mixed", "f1"]
    assert named.loc["augmentation", "f1"] == aug.loc[0.1, "f1"]
    assert rows[["accuracy", "f1", "auc"]].apply(lambda c: c.between(0, 1)).all().all()


def test_scoring_is_deterministic_and_uses_the_holdout(split):
    train, holdout = split
    a, b = score(train, holdout, "outcome", 0), score(train.copy(), holdout, "outcome", 0)
    assert a == b
    flipped = holdout.copy()
    flipped["outcome"] = np.where(flipped["outcome"] == "Yes", "No", "Yes")
    worse = score(train, flipped, "outcome", 0)
    assert worse["accuracy"] == pytest.approx(1 - a["accuracy"])


def test_a_synthesizer_failing_on_scarce_data_keeps_its_error(split):
    train, holdout = split

    def picky(sample, n):
        if len(sample) < len(train) // 3:
            raise ValueError("too few rows to fit")
        return bootstrap(sample, n)

    rows = pd.DataFrame(run_scenarios(train, holdout, bootstrap(train, len(train)), "outcome",
                                      seed=0, sample_fn=picky))
    aug = rows[rows.scenario == "scarcity-augmented"].set_index("fraction")
    assert aug.loc[0.1, "error"] == "ValueError: too few rows to fit"
    assert np.isnan(aug.loc[0.1, "f1"])
    assert aug.loc[0.5, "error"] == "" and not np.isnan(aug.loc[0.5, "f1"])


def test_grid_with_scenarios_writes_curve_and_resumes(tmp_path):
    out = tmp_path / "out"
    spec = tiny_table(tmp_path)
    run_grid([spec], ["smote"], 1, out, BenchmarkOptions(synth_params=FAST), workers=1,
             audit_fn=fake_audit)
    plans = []
    opts = BenchmarkOptions(synth_params=FAST, scenarios=True)
    run_grid([spec], ["smote", "hybrid"], 1, out, opts, workers=1, audit_fn=fake_audit,
             on_plan=lambda run, skip: plans.append((run, skip)))
    assert plans == [(2, 0)]  # smote's main part is kept; only its scenarios run
    scen = pd.read_csv(out / "scenarios.csv", keep_default_na=False)
    for name in ("smote", "hybrid"):
        rows = scen[scen.synthesizer == name]
        assert set(NAMED) <= set(rows.scenario)
        assert set(rows[rows.scenario == "scarcity-augmented"].fraction) == set(FRACTIONS)
    assert (out / "scarcity_curve.png").stat().st_size > 0
    assert "#### Data scarcity" in (out / "summary.md").read_text()
    run_grid([spec], ["smote", "hybrid"], 1, out, opts, workers=1, audit_fn=fake_audit,
             on_plan=lambda run, skip: plans.append((run, skip)))
    assert plans[-1] == (0, 2)
