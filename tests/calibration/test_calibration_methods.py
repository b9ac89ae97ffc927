"""The maths of each calibrator and of the shared reference, checked against numpy/scipy."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import ks_2samp, kstest, rankdata

from clinisynth.calibration import CalibrationChain, Reference, get_calibrator, make_calibrator
from clinisynth.calibration.adaptive_soft import noise_ks
from clinisynth.errors import ClinisynthError

GRID = 1 / 511  # resolution of the default 512-quantile reference


def fitted(name, case, **params):
    return get_calibrator(name)(**params).fit(case.X, case.y, case.columns)


def blocks(case, X, k):
    return X[np.ix_(case.ys == k, case.columns)]


def real_block(case, k):
    return case.X[np.ix_(case.y == k, case.columns)]


def histogram_by_hand(case, k, n_quantiles=512):
    """F_r^{-1}(F_s(x)) from np.quantile, rankdata and np.interp, column by column."""
    levels = np.linspace(0, 1, n_quantiles)
    x, real = blocks(case, case.Xs, k), real_block(case, k)
    p = (rankdata(x, axis=0) - 0.5) / len(x)
    return np.column_stack([np.interp(p[:, j], levels, np.quantile(real[:, j], levels))
                            for j in range(x.shape[1])])


# -- reference ------------------------------------------------------------------------------------
def test_reference_quantiles_ppf_and_cdf(gamma_case):
    case = gamma_case
    ref = Reference.from_data(case.X, case.y, case.columns, n_quantiles=64)
    levels = np.linspace(0, 1, 64)
    for k in (0, 1):
        cr = ref.for_class(k)
        np.testing.assert_allclose(cr.quantiles,
                                   np.quantile(real_block(case, k), levels, axis=0).T)
        p = np.random.default_rng(1).uniform(size=(300, 3))
        p[:2] = [[0, 0, 0], [1, 1, 1]]
        by_interp = np.column_stack([np.interp(p[:, j], levels, cr.quantiles[j])
                                     for j in range(3)])
        np.testing.assert_allclose(cr.ppf(p), by_interp, rtol=0, atol=1e-12)
        np.testing.assert_allclose(cr.cdf(cr.ppf(p)), p, rtol=0, atol=1e-9)
        assert np.all(cr.cdf(cr.quantiles[:, :1].T - 1) == 0)
        assert np.all(cr.cdf(cr.quantiles[:, -1:].T) == 1)


def test_ks_matches_scipy(gamma_case):
    """One-sample KS to F_r equals scipy's kstest, and is within 1/n of KS to the real rows."""
    case = gamma_case
    ref = Reference.from_data(case.X, case.y, case.columns)
    for k in (0, 1):
        cr, x, real = ref.for_class(k), blocks(case, case.Xs, k), real_block(case, k)
        ours = cr.ks(x)
        for j in range(3):
            one = cr.subset([j])
            stat = kstest(x[:, j], lambda t, one=one: one.cdf(np.asarray(t)[:, None])[:, 0])
            assert ours[j] == pytest.approx(stat.statistic, abs=1e-12)
            two_sample = ks_2samp(x[:, j], real[:, j], method="asymp").statistic
            assert abs(ours[j] - two_sample) <= 1 / len(real)


def test_ks_with_tied_reference():
    """Atoms in the real data (repeated values) are jumps of F_r; KS sees them like scipy."""
    real = np.repeat([0.0, 1.0, 2.0, 5.0], [50, 30, 15, 5])[:, None]
    ref = Reference.from_data(real, np.zeros(100, dtype=int), [0]).for_class(0)
    assert ref.ks(real)[0] <= 1 / 100 + GRID
    for batch in (np.repeat([0.0, 1.0, 2.0], [20, 60, 20]), np.linspace(-1, 6, 77),
                  np.repeat([0.5, 1.0, 3.0], [10, 10, 30])):
        expected = ks_2samp(batch, real[:, 0], method="asymp").statistic
        assert abs(ref.ks(batch[:, None])[0] - expected) <= 1 / 100 + GRID


# -- moment ---------------------------------------------------------------------------------------
def test_moment_matches_real_mean_and_std_and_keeps_pearson(gamma_case):
    case = gamma_case
    out = fitted("moment", case).transform(case.Xs, case.ys)
    for k in (0, 1):
        new, real, x = blocks(case, out, k), real_block(case, k), blocks(case, case.Xs, k)
        np.testing.assert_allclose(new.mean(axis=0), real.mean(axis=0), atol=1e-10)
        np.testing.assert_allclose(new.std(axis=0), real.std(axis=0), atol=1e-10)
        np.testing.assert_allclose(np.corrcoef(new.T), np.corrcoef(x.T), atol=1e-12)


def test_moment_batch_without_spread_goes_to_real_mean(gamma_case):
    case = gamma_case
    Xs = case.Xs[:40].copy()
    Xs[:, 0] = 0.3  # std of a constant float column is rounding noise, not spread
    ys = np.zeros(40, dtype=int)
    out = fitted("moment", case).transform(Xs, ys)
    assert np.allclose(out[:, 0], real_block(case, 0)[:, 0].mean(), rtol=0, atol=1e-12)


# -- histogram ------------------------------------------------------------------------------------
def test_histogram_is_the_quantile_map(gamma_case):
    case = gamma_case
    out = fitted("histogram", case).transform(case.Xs, case.ys)
    for k in (0, 1):
        np.testing.assert_allclose(blocks(case, out, k), histogram_by_hand(case, k),
                                   rtol=0, atol=1e-12)


def test_histogram_brings_a_skewed_reference_near_ks_zero(gamma_case):
    """Normal batch onto gamma/lognormal classes: KS to the real rows drops to ~1/m + 1/Q."""
    case = gamma_case
    out = fitted("histogram", case).transform(case.Xs, case.ys)
    for k in (0, 1):
        x, new, real = blocks(case, case.Xs, k), blocks(case, out, k), real_block(case, k)
        for j in range(3):
            # the batch starts far off
            assert ks_2samp(x[:, j], real[:, j], method="asymp").statistic > 0.1
            assert ks_2samp(new[:, j], real[:, j], method="asymp").statistic < 1 / len(new) + GRID


def test_histogram_of_the_real_data_is_near_identity(gamma_case):
    case = gamma_case
    cal = fitted("histogram", case)
    out = cal.transform(case.X, case.y)
    for k in (0, 1):
        real, new = real_block(case, k), out[np.ix_(case.y == k, case.columns)]
        for j in range(3):
            assert ks_2samp(new[:, j], real[:, j], method="asymp").statistic <= 1 / len(real) + GRID


# -- soft -----------------------------------------------------------------------------------------
def test_soft_is_the_blend_of_identity_and_histogram(gamma_case):
    case = gamma_case
    hist = fitted("histogram", case).transform(case.Xs, case.ys)
    assert np.array_equal(fitted("soft", case, alpha=0.0).transform(case.Xs, case.ys), case.Xs)
    assert np.array_equal(fitted("soft", case, alpha=1.0).transform(case.Xs, case.ys), hist)
    out = fitted("soft", case, alpha=0.3).transform(case.Xs, case.ys)
    np.testing.assert_allclose(out, 0.7 * case.Xs + 0.3 * hist, rtol=0, atol=1e-12)


# -- adaptive soft --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def mixed_fit():
    """Class 0: column 0 badly off (normal vs gamma), 1 drawn afresh from the real law, 2 exact."""
    rng = np.random.default_rng(5)
    real = np.column_stack([rng.gamma(2.0, 1.0, 1000), rng.normal(0, 1, 1000),
                            rng.normal(0, 1, 1000)])
    batch = np.column_stack([rng.normal(2, 1, 1000), rng.normal(0, 1, 1000),
                             rng.permutation(real[:, 2])])
    y = np.zeros(1000, dtype=int)
    return real, batch, y


def test_adaptive_soft_moves_bad_columns_most(mixed_fit):
    real, batch, y = mixed_fit
    cal = get_calibrator("adaptive_soft")().fit(real, y, [0, 1, 2])
    ks = cal.ks(batch, y)[0]
    out = cal.transform(batch, y)
    alpha = cal.alpha_[0]
    np.testing.assert_allclose(alpha, np.minimum(1, (ks / noise_ks(1000, 1000)) ** 2))
    assert alpha[0] == 1.0  # significant gap: full quantile map
    assert alpha[1] < 0.6  # a sampling-noise gap: partial
    assert alpha[2] < 5e-3  # already matching: nearly untouched
    hist = get_calibrator("histogram")().fit(real, y, [0, 1, 2]).transform(batch, y)
    assert np.array_equal(out[:, 0], hist[:, 0])
    np.testing.assert_allclose(out, (1 - alpha) * batch + alpha * hist, rtol=0, atol=1e-12)
    assert np.abs(out[:, 2] - batch[:, 2]).max() < 5e-3 * np.abs(hist[:, 2] - batch[:, 2]).max()


def test_adaptive_soft_with_a_fixed_target(mixed_fit):
    real, batch, y = mixed_fit
    cal = get_calibrator("adaptive_soft")(ks_target=0.5, power=1.0).fit(real, y, [0, 1, 2])
    ks = cal.ks(batch, y)[0]
    cal.transform(batch, y)
    np.testing.assert_allclose(cal.alpha_[0], np.minimum(1, ks / 0.5))


# -- iterative soft -------------------------------------------------------------------------------
def test_iterative_soft_reaches_tol_and_records_iterations(gamma_case):
    case = gamma_case
    cal = fitted("iterative_soft", case, tol=0.02)
    out = cal.transform(case.Xs, case.ys)
    assert cal.converged_ == {0: True, 1: True}
    assert all(1 <= n <= 10 for n in cal.n_iter_.values())
    for ks in cal.ks(out, case.ys).values():
        assert ks.max() < 0.02


def test_iterative_soft_closed_form(gamma_case):
    """t steps of alpha equal one soft step of 1 - (1 - alpha)^t (H depends on ranks only)."""
    case = gamma_case
    cal = fitted("iterative_soft", case, alpha=0.3, tol=1e-9, max_iter=3)  # tol unreachable
    out = cal.transform(case.Xs, case.ys)
    assert cal.n_iter_ == {0: 3, 1: 3} and cal.converged_ == {0: False, 1: False}
    soft = fitted("soft", case, alpha=1 - 0.7**3).transform(case.Xs, case.ys)
    np.testing.assert_allclose(out, soft, rtol=0, atol=1e-12)


def test_iterative_soft_leaves_matching_columns_alone(gamma_case):
    case = gamma_case
    hist = fitted("histogram", case).transform(case.Xs, case.ys)
    cal = fitted("iterative_soft", case)
    assert np.array_equal(cal.transform(hist, case.ys), hist)
    assert cal.n_iter_ == {0: 0, 1: 0}


# -- options --------------------------------------------------------------------------------------
BAD = [
    ("soft", {"alpha": 1.5}, "soft: alpha must be a number in [0, 1], got 1.5"),
    ("soft", {"alpha": -0.1}, "soft: alpha must be a number in [0, 1]"),
    ("soft", {"alpha": "0.5"}, "soft: alpha must be a number in [0, 1], got '0.5'"),
    ("soft", {"alpha": True}, "soft: alpha must be a number"),
    ("soft", {"alpha": float("nan")}, "soft: alpha must be a number"),
    ("iterative_soft", {"alpha": 2}, "iterative_soft: alpha must be a number in [0, 1]"),
    ("iterative_soft", {"tol": 0}, "iterative_soft: tol must be a positive number"),
    ("iterative_soft", {"max_iter": 0}, "iterative_soft: max_iter must be a positive integer"),
    ("iterative_soft", {"max_iter": 2.5}, "iterative_soft: max_iter must be a positive integer"),
    ("adaptive_soft", {"ks_target": 0.0}, "adaptive_soft: ks_target must be a positive number"),
    ("adaptive_soft", {"power": -1}, "adaptive_soft: power must be a positive number"),
]


@pytest.mark.parametrize(("name", "params", "message"), BAD)
def test_bad_options_name_the_option(name, params, message, gamma_case):
    for make in (lambda: make_calibrator(name, params),
                 lambda: get_calibrator(name)(**params).fit(gamma_case.X, gamma_case.y, [0]),
                 lambda: CalibrationChain([name], params={name: params})):
        with pytest.raises(ClinisynthError) as info:
            make()
        assert str(info.value).startswith(message) and "\n" not in str(info.value)


def test_bad_chain_options():
    with pytest.raises(ClinisynthError, match="unknown calibrator 'nope'; registered: moment, "):
        CalibrationChain(["moment", "nope"])
    with pytest.raises(ClinisynthError, match="'soft' is not a step of the chain"):
        CalibrationChain(["moment"], params={"soft": {"alpha": 0.5}})
    with pytest.raises(ClinisynthError, match="moment: unknown parameter 'alpha'; parameters: "):
        CalibrationChain(["moment"], params={"moment": {"alpha": 0.5}})
