"""The calibration reference with rare values smoothed (value protection's part in calibration)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from clinisynth.audit.singling_out import count, univariate_predicates
from clinisynth.calibration import CalibrationChain
from clinisynth.calibration.reference import Reference, bandwidth, smoothed_quantiles
from clinisynth.params import RARE_SMOOTHING

LEVELS = np.linspace(0.0, 1.0, 512)


def test_values_held_by_k_rows_stay_point_masses() -> None:
    rng = np.random.default_rng(0)
    x = np.r_[np.zeros(120), np.full(40, 7.0), rng.lognormal(2.0, 0.4, 240)]
    q = smoothed_quantiles(x, LEVELS, 1.0, k=5)
    assert q is not None
    # the share of levels on each atom is the atom's share of the rows (up to the level grid)
    assert abs((q == 0.0).mean() - 120 / len(x)) < 2 / len(LEVELS)
    assert abs((q == 7.0).mean() - 40 / len(x)) < 2 / len(LEVELS)


def _singling_out_excess(quantiles: Callable[[np.ndarray], np.ndarray | None],
                         reps: int = 40) -> float:
    """Mean over ``reps`` training samples (350 rows of a lab value recorded to one decimal)
    of the audit's univariate singling-out success on the training rows minus that on a fresh
    sample of the population, for 350 draws through ``quantiles(x)`` rounded as recorded
    (predicates "the only row near v"; the ends are the protect step's)."""
    rng = np.random.default_rng(7)
    out = []
    for _ in range(reps):
        x = rng.lognormal(3.4, 0.2, 350).round(1)
        fresh = rng.lognormal(3.4, 0.2, 350).round(1)
        q = quantiles(x)
        draws = np.interp(rng.random(350), LEVELS, q if q is not None else x).round(1)[:, None]
        preds = [p for p in univariate_predicates(draws, [True], 10_000, rng) if len(p) == 2]
        out.append(np.mean([count(p, x[:, None]) == 1 for p in preds])
                   - np.mean([count(p, fresh[:, None]) == 1 for p in preds]))
    return float(np.mean(out))


def test_rare_values_are_not_reproduced() -> None:
    """Draws through the raw quantile function put a synthetic value beside each value one
    training row holds, so "the only patient near v" singles out training patients more often
    than unseen ones; through the smoothed one, about as often."""
    raw = _singling_out_excess(lambda x: np.quantile(x, LEVELS))
    smooth = _singling_out_excess(lambda x: smoothed_quantiles(x, LEVELS, RARE_SMOOTHING, k=5))
    assert raw > 0.06
    assert smooth < 0.05


def test_knn_kernels_spread_isolated_values_over_their_neighbours() -> None:
    """Three values far apart in a tail (gaps of 3, Silverman's bandwidth 0.3): with
    Silverman's kernel each keeps most of a row's mass within 0.5 of itself (a peak at one
    patient's value); with ``knn`` each kernel reaches the value's k-th nearest value, and
    each keeps under half of it."""
    levels = np.linspace(0.0, 1.0, 4096)
    x = np.r_[np.random.default_rng(0).normal(0.0, 1.0, 300), 8.0, 11.0, 14.0]
    assert bandwidth(x) < 0.5

    def near(q: np.ndarray | None) -> np.ndarray:
        assert q is not None
        return np.array([np.mean(np.abs(q - v) < 0.5) * len(x) for v in (8.0, 11.0, 14.0)])

    assert np.all(near(smoothed_quantiles(x, levels, 1.0, k=5)) > 0.8)
    assert np.all(near(smoothed_quantiles(x, levels, 1.0, k=5, knn=True)) < 0.5)


def test_smoothed_quantiles_are_monotone_within_the_observed_range() -> None:
    x = np.random.default_rng(1).lognormal(3.4, 0.2, 350).round(1)
    q = smoothed_quantiles(x, LEVELS, 1.0, k=5)
    assert q is not None
    assert np.all(np.diff(q) >= 0)
    assert q[0] == x.min() and q[-1] == x.max()  # the protect step bounds the range
    assert abs(np.interp(0.5, LEVELS, q) - np.median(x)) < bandwidth(x)


def test_nothing_to_smooth_keeps_the_raw_quantiles() -> None:
    x = np.repeat([1.0, 2.0, 3.0], 10)  # every value held by at least k rows
    assert smoothed_quantiles(x, LEVELS, 1.0, k=5) is None
    assert smoothed_quantiles(np.arange(50.0), LEVELS, 0.0, k=5) is None


def test_reference_smoothing_is_per_class_and_off_by_default() -> None:
    rng = np.random.default_rng(2)
    X = np.c_[rng.normal(size=400), rng.integers(0, 3, 400)].astype(float)
    y = np.repeat([0, 1], 200)
    raw = Reference.from_data(X, y, [0, 1])
    smooth = Reference.from_data(X, y, [0, 1], smoothing=1.0, k=5)
    for i, k in enumerate((0, 1)):
        assert np.allclose(raw.quantiles[i, 0], np.quantile(X[y == k, 0], LEVELS))
        assert not np.allclose(smooth.quantiles[i, 0], raw.quantiles[i, 0])
        assert np.array_equal(smooth.quantiles[i, 1], raw.quantiles[i, 1])  # 3 common values


def test_unsmoothed_columns_keep_the_raw_quantiles() -> None:
    rng = np.random.default_rng(5)
    X = rng.normal(size=(300, 2))
    y = np.repeat([0, 1], 150)
    raw = Reference.from_data(X, y, [0, 1])
    ref = Reference.from_data(X, y, [0, 1], smoothing=1.0, k=5, unsmoothed=[1])
    assert not np.allclose(ref.quantiles[:, 0], raw.quantiles[:, 0])
    assert np.array_equal(ref.quantiles[:, 1], raw.quantiles[:, 1])


def test_a_step_score_is_calibrated_unsmoothed() -> None:
    """A column the model schema marks as a step's score (the survival step's normal score,
    mapped back through the real times by that step) is matched to its raw quantiles; the
    other numeric columns are smoothed."""
    from clinisynth.encoding import NUMERIC, Block
    from clinisynth.schema import ColumnSchema, TableSchema
    from clinisynth.steps.base import Batch, FitContext
    from clinisynth.steps.calibrate import CalibrateStep

    rng = np.random.default_rng(6)
    X = rng.normal(size=(300, 2))
    y = np.repeat([0, 1], 150)
    schema = TableSchema(columns=[
        ColumnSchema("lab", "continuous", "float64", -4.0, 4.0),
        ColumnSchema("time", "continuous", "float64", -4.0, 4.0, score=True),
        ColumnSchema("outcome", "binary", "int64", categories=[0, 1])], target="outcome")
    blocks = [Block("lab", NUMERIC, 0, 1), Block("time", NUMERIC, 1, 2)]
    step = CalibrateStep(("histogram",), freeze=False, smoothing=1.0).fit(
        Batch(X=X, y=y, blocks=blocks), FitContext(rng=rng, schema=schema))
    raw = Reference.from_data(X, y, [0, 1])
    ref = step.chain_.reference_
    assert not np.allclose(ref.quantiles[:, 0], raw.quantiles[:, 0])
    assert np.array_equal(ref.quantiles[:, 1], raw.quantiles[:, 1])


def test_a_value_k_rows_of_the_column_hold_stays_a_point_mass_in_every_class() -> None:
    """The protected bound: clipping leaves k rows at it, split over the classes (3 + 2)."""
    rng = np.random.default_rng(4)
    a, b = rng.uniform(-2, 2, 200).round(2), rng.uniform(-2, 2, 100).round(2)
    x = np.r_[a, [2.5] * 3, b, [2.5] * 2]
    y = np.repeat([0, 1], [203, 102])
    assert (x[y == 1] == 2.5).sum() < 5 <= (x == 2.5).sum()
    ref = Reference.from_data(x[:, None], y, [0], smoothing=1.0, k=5)
    for i in (0, 1):
        top = ref.quantiles[i, 0]
        assert top[-1] == 2.5 and top[-2] == 2.5  # a jump at the bound: its rows stay there
    alone = Reference.from_data(x[y == 1, None], y[y == 1], [0], smoothing=1.0, k=5)
    assert alone.quantiles[0, 0][-2] < 2.5  # held by 2 rows alone: smoothed


@pytest.mark.parametrize("steps", [["histogram"], ["moment", "adaptive_soft"]])
def test_smoothed_chain_calibrates_toward_the_population(steps: list[str]) -> None:
    """Fitted on 300 rows of a population, the smoothed chain maps a biased batch closer to the
    population's marginal than to the training rows' exact values."""
    rng = np.random.default_rng(3)
    train = rng.gamma(2.0, 2.0, (300, 1)).round(2)
    y = np.zeros(300, dtype=int)
    batch = rng.gamma(3.0, 2.0, (20_000, 1))
    chain = CalibrationChain(steps).fit(train, y, [0], smoothing=1.0, k=5)
    out = chain.transform(batch, np.zeros(len(batch), dtype=int), report=False)[:, 0]
    population = np.sort(rng.gamma(2.0, 2.0, 200_000)).round(2)
    raw = CalibrationChain(steps).fit(train, y, [0]).transform(
        batch, np.zeros(len(batch), dtype=int), report=False)[:, 0]

    def ks(a: np.ndarray) -> float:
        return float(np.abs(np.searchsorted(population, np.sort(a.round(2)), "right")
                            / len(population) - np.arange(1, len(a) + 1) / len(a)).max())

    assert ks(out) < 0.1
    assert ks(out) < ks(raw) + 0.01  # no further from the population than the raw reference


@pytest.mark.parametrize("protect", [True, False])
def test_value_protection_switches_the_smoothing_and_old_models_load_raw(mixed_table, protect):
    from clinisynth import HybridSynthesizer
    from clinisynth.steps.calibrate import CalibrateStep

    syn = HybridSynthesizer(weights={"gmm": 1}, privacy_guard=False, protect=protect, seed=0)
    syn.fit(mixed_table, "outcome")
    step = syn.pipeline_.step("calibrate")
    assert step.smoothing == (RARE_SMOOTHING if protect else 0.0)
    meta, arrays = step.get_state()
    meta.pop("smoothing")  # a model saved before the smoothing existed
    old = CalibrateStep.from_state(meta, arrays)
    assert old.smoothing == 0.0
    assert np.array_equal(old.chain_.reference_.quantiles, step.chain_.reference_.quantiles)
