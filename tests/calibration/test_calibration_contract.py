"""One contract, checked for every registered calibrator (and for chains of them)."""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from scipy.stats import spearmanr

from clinisynth.calibration import (
    BaseCalibrator,
    CalibrationChain,
    get_calibrator,
    list_calibrators,
    make_calibrator,
)
from clinisynth.errors import ClinisynthError, NotFittedError

BUILTINS = ["moment", "histogram", "soft", "adaptive_soft", "iterative_soft"]

# every registered calibrator with its defaults, some non-default settings, and chains
SPECS: list[tuple[str, dict]] = [(name, {}) for name in list_calibrators()] + [
    ("soft", {"alpha": 0.2}),
    ("soft", {"alpha": 1.0}),
    ("adaptive_soft", {"ks_target": 0.05, "power": 1.0}),
    ("iterative_soft", {"alpha": 0.3, "tol": 0.02, "max_iter": 25}),
    ("chain", {"steps": ["moment", "adaptive_soft"]}),
    ("chain", {"steps": ["moment", "iterative_soft"], "params": {"iterative_soft": {"tol": 0.03}}}),
    ("chain", {"steps": ["moment", "soft", "histogram"]}),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in p.items())}" if p else n for n, p in SPECS]
CASES = ["gamma_case", "bc_case"]


def build(name: str, params: dict) -> BaseCalibrator | CalibrationChain:
    if name == "chain":
        return CalibrationChain(**params)
    return get_calibrator(name)(**params)


def by_class(X: np.ndarray, y: np.ndarray, columns: list[int]):
    for k in np.unique(y):
        yield k, X[np.ix_(y == k, columns)]


def test_registry_lists_the_builtins_first():
    assert list_calibrators()[:5] == BUILTINS
    for name in BUILTINS:
        cls = get_calibrator(name)
        assert issubclass(cls, BaseCalibrator) and cls.name == name


@pytest.fixture(params=CASES)
def data(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(params=SPECS, ids=IDS)
def spec(request):
    return request.param


@pytest.fixture
def fitted(spec, data):
    name, params = spec
    return name, params, build(name, params).fit(data.X, data.y, data.columns)


def test_shape_copy_and_untouched_columns(fitted, data):
    *_, cal = fitted
    before = data.Xs.copy()
    out = cal.transform(data.Xs, data.ys)
    assert out.shape == data.Xs.shape and out.dtype == np.float64
    assert out is not data.Xs
    assert np.array_equal(data.Xs, before)  # input not modified
    others = [j for j in range(data.Xs.shape[1]) if j not in data.columns]
    assert out[:, others].tobytes() == data.Xs[:, others].tobytes()  # bit for bit
    assert np.isfinite(out).all()
    assert not np.array_equal(out[:, data.columns], data.Xs[:, data.columns])


def test_maps_are_monotone_per_class_and_column(fitted, data):
    *_, cal = fitted
    out = cal.transform(data.Xs, data.ys)
    for k, x in by_class(data.Xs, data.ys, data.columns):
        new = out[np.ix_(data.ys == k, data.columns)]
        for j in range(x.shape[1]):
            order = np.argsort(x[:, j], kind="stable")
            steps = np.diff(new[order, j])
            assert steps.min() >= -1e-12 * (1 + np.abs(new[:, j]).max()), (k, j)
            # equal inputs give equal outputs
            same = np.diff(x[order, j]) == 0
            assert np.all(steps[same] == 0)


def test_order_and_spearman_kept_exactly_on_continuous_reference(spec, gamma_case):
    """Distinct real values make every map strictly increasing: ranks are kept exactly."""
    data = gamma_case
    cal = build(*spec).fit(data.X, data.y, data.columns)
    out = cal.transform(data.Xs, data.ys)
    for k, x in by_class(data.Xs, data.ys, data.columns):
        new = out[np.ix_(data.ys == k, data.columns)]
        assert np.array_equal(np.argsort(x, axis=0, kind="stable"),
                              np.argsort(new, axis=0, kind="stable"))
        np.testing.assert_allclose(spearmanr(new).statistic, spearmanr(x).statistic,
                                   rtol=0, atol=1e-12)


def test_spearman_kept_up_to_ties_on_breast_cancer(spec, bc_case):
    """Real lab values tie (e.g. zeros), so a flat stretch of a map may merge a few ranks."""
    data = bc_case
    cal = build(*spec).fit(data.X, data.y, data.columns)
    out = cal.transform(data.Xs, data.ys)
    for k, x in by_class(data.Xs, data.ys, data.columns):
        new = out[np.ix_(data.ys == k, data.columns)]
        diff = np.abs(spearmanr(new).statistic - spearmanr(x).statistic)
        assert diff.max() < 5e-3, (k, diff.max())


def test_ks_to_the_real_class_does_not_increase(fitted, data):
    name, params, cal = fitted
    before = cal.ks(data.Xs, data.ys)
    out = cal.transform(data.Xs, data.ys)
    after = cal.ks(out, data.ys)
    mean_before = np.mean(np.concatenate(list(before.values())))
    mean_after = np.mean(np.concatenate(list(after.values())))
    assert mean_after < mean_before
    if name != "moment":  # moment moves location and scale only, not shape: no per-column bound
        for k in before:
            slack = 1.0 / np.sum(data.ys == k) + 1e-9
            assert np.all(after[k] <= before[k] + slack), (k, before[k], after[k])


def test_deterministic(fitted, data):
    name, params, cal = fitted
    first = cal.transform(data.Xs, data.ys)
    again = cal.transform(data.Xs, data.ys)
    other = build(name, params).fit(data.X, data.y, data.columns).transform(data.Xs, data.ys)
    assert np.array_equal(first, again) and np.array_equal(first, other)


def test_state_round_trip_through_json_and_npz(fitted, data):
    *_, cal = fitted
    state, arrays = cal.get_state()
    state = json.loads(json.dumps(state))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as npz:
        loaded_arrays = {k: npz[k] for k in npz.files}
    loaded = type(cal).from_state(state, loaded_arrays)
    assert np.array_equal(loaded.transform(data.Xs, data.ys), cal.transform(data.Xs, data.ys))


def test_state_is_bounded_and_holds_no_rows(spec, gamma_case):
    """The saved arrays' size does not grow with the number of real rows."""
    name, params = spec
    data = gamma_case
    cal = build(name, params).fit(data.X, data.y, data.columns)
    small = build(name, params).fit(data.X[::10], data.y[::10], data.columns)
    big_arrays = cal.get_state()[1]
    small_arrays = small.get_state()[1]
    assert {k: v.shape for k, v in big_arrays.items()} == \
        {k: v.shape for k, v in small_arrays.items()}
    total = sum(v.size for v in big_arrays.values())
    assert total < 2 * 3 * 520 + 50  # classes × columns × quantiles, plus small vectors
    stored = np.concatenate([v.ravel().astype(float) for v in big_arrays.values()])
    assert not any(np.isin(row, stored).all() for row in data.X[:200])


def test_single_class_batch_and_single_row(fitted, data):
    *_, cal = fitted
    rows = np.flatnonzero(data.ys == 1)
    out = cal.transform(data.Xs[rows], data.ys[rows])
    assert np.array_equal(out, cal.transform(data.Xs, data.ys)[rows])  # classes independent
    one = cal.transform(data.Xs[rows[:1]], data.ys[rows[:1]])
    assert one.shape == (1, data.Xs.shape[1]) and np.isfinite(one).all()
    empty = cal.transform(data.Xs[:0], data.ys[:0])
    assert empty.shape == (0, data.Xs.shape[1])


def test_errors_are_one_line(fitted, data):
    *_, cal = fitted
    cases = [
        (lambda: cal.transform(data.Xs, np.full(len(data.ys), 7)), "class code 7 was not seen"),
        (lambda: cal.transform(data.Xs[:, :-1], data.ys), "columns, but fit saw"),
        (lambda: cal.transform(data.Xs, data.ys[:-1]), "one class code per row"),
        (lambda: cal.transform(np.where(data.Xs == data.Xs[0, data.columns[0]], np.nan,
                                        data.Xs), data.ys), "missing or infinite"),
    ]
    for call, message in cases:
        with pytest.raises(ClinisynthError, match=message) as info:
            call()
        assert "\n" not in str(info.value)


def test_fit_errors(spec, gamma_case):
    name, params = spec
    data = gamma_case
    d = data.X.shape[1]
    for columns, message in [([0, d], f"column index {d} is out of range"),
                             ([-1], "column index -1 is out of range"),
                             ([0, 0], "more than once"), ([0.5], "integer column indices")]:
        with pytest.raises(ClinisynthError, match=message) as info:
            build(name, params).fit(data.X, data.y, columns)
        assert "\n" not in str(info.value)
    with pytest.raises(ClinisynthError, match="n_quantiles"):
        build(name, params).fit(data.X, data.y, data.columns, n_quantiles=1)
    bad = data.X.copy()
    bad[3, 0] = np.inf
    with pytest.raises(ClinisynthError, match="missing or infinite"):
        build(name, params).fit(bad, data.y, data.columns)
    with pytest.raises(NotFittedError):
        build(name, params).transform(data.Xs, data.ys)


def test_no_columns_is_the_identity(spec, gamma_case):
    name, params = spec
    data = gamma_case
    cal = build(name, params).fit(data.X, data.y, [])
    assert np.array_equal(cal.transform(data.Xs, data.ys), data.Xs)


def test_make_calibrator_checks_options():
    assert make_calibrator("soft", {"alpha": 0.3}).alpha == 0.3
    with pytest.raises(ClinisynthError, match="soft: unknown parameter 'alpah'; parameters: alpha"):
        make_calibrator("soft", {"alpah": 0.3})
    with pytest.raises(ClinisynthError, match="unknown calibrator 'quantile'; registered: moment"):
        get_calibrator("quantile")


def test_third_party_calibrator_registers_and_chains(gamma_case):
    from clinisynth.calibration import registry

    @registry.register
    class Shift(BaseCalibrator):
        """``x' = x + m_r - median_s``: a monotone shift onto the real mean."""

        name = "shift"

        def __init__(self, extra: float = 0.0) -> None:
            self.extra = extra

        def _transform_class(self, x, ref, k):
            return x + ref.mean - np.median(x, axis=0) + self.extra

    assert list_calibrators()[-1] == "shift" and get_calibrator("shift") is Shift
    case = gamma_case
    chain = CalibrationChain(["shift", "histogram"], params={"shift": {"extra": 1.0}})
    chain.fit(case.X, case.y, case.columns)
    loaded = CalibrationChain.from_state(*chain.get_state())
    assert np.array_equal(loaded.transform(case.Xs, case.ys), chain.transform(case.Xs, case.ys))
    with pytest.raises(TypeError):
        registry.register(dict)
    registry.CALIBRATORS.unregister("shift")
    assert "shift" not in list_calibrators()


def test_state_of_another_calibrator_is_refused(gamma_case):
    case = gamma_case
    state, arrays = get_calibrator("soft")().fit(case.X, case.y, case.columns).get_state()
    with pytest.raises(ClinisynthError, match="state of calibrator 'soft' cannot be loaded"):
        get_calibrator("histogram").from_state(state, arrays)
