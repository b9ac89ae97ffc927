"""CalibrationChain: composition, shared reference, report, persistence and speed."""

from __future__ import annotations

import time

import numpy as np
import pytest

from clinisynth.calibration import CalibrationChain, get_calibrator
from clinisynth.errors import NotFittedError


def test_chain_equals_its_steps_applied_in_order(gamma_case):
    case = gamma_case
    chain = CalibrationChain(["moment", "soft", "adaptive_soft"], params={"soft": {"alpha": 0.3}})
    out = chain.fit(case.X, case.y, case.columns).transform(case.Xs, case.ys)
    step = case.Xs
    for name, params in (("moment", {}), ("soft", {"alpha": 0.3}), ("adaptive_soft", {})):
        step = get_calibrator(name)(**params).fit(case.X, case.y, case.columns).transform(
            step, case.ys)
    assert np.array_equal(out, step)
    assert all(cal.reference_ is chain.reference_ for cal in chain.calibrators)  # fitted once


def test_report_lists_ks_before_and_after_each_step(bc_case):
    case = bc_case
    chain = CalibrationChain(["moment", "adaptive_soft"]).fit(case.X, case.y, case.columns)
    out = chain.transform(case.Xs, case.ys)
    report = chain.report
    assert [r["step"] for r in report] == ["input", "moment", "adaptive_soft"]

    def mean_max(X):
        values = np.concatenate(list(chain.ks(X, case.ys).values()))
        return values.mean(), values.max()

    assert (report[0]["mean_ks"], report[0]["max_ks"]) == pytest.approx(mean_max(case.Xs))
    assert (report[-1]["mean_ks"], report[-1]["max_ks"]) == pytest.approx(mean_max(out))
    assert report[0]["mean_ks"] > report[1]["mean_ks"] > report[2]["mean_ks"]


def test_report_can_be_skipped(gamma_case):
    case = gamma_case
    chain = CalibrationChain(["histogram"]).fit(case.X, case.y, case.columns)
    with pytest.raises(NotFittedError, match="call transform"):
        _ = chain.report
    with_report = chain.transform(case.Xs, case.ys)
    assert len(chain.report) == 2
    assert np.array_equal(chain.transform(case.Xs, case.ys, report=False), with_report)
    with pytest.raises(NotFittedError):
        _ = chain.report  # a stale report is not kept


def test_empty_chain_and_single_name(gamma_case):
    case = gamma_case
    empty = CalibrationChain([]).fit(case.X, case.y, case.columns)
    assert np.array_equal(empty.transform(case.Xs, case.ys), case.Xs)
    assert [r["step"] for r in empty.report] == ["input"]
    single = CalibrationChain("histogram").fit(case.X, case.y, case.columns)
    assert single.steps == ["histogram"]


def test_state_is_json_and_arrays_with_the_reference_once(gamma_case):
    case = gamma_case
    chain = CalibrationChain(["moment", "iterative_soft"], params={"iterative_soft": {"tol": 0.03}})
    chain.fit(case.X, case.y, case.columns, n_quantiles=64)
    state, arrays = chain.get_state()
    assert state["steps"] == ["moment", "iterative_soft"]
    assert state["params"] == {"iterative_soft": {"tol": 0.03}}
    assert sorted(arrays) == ["reference.classes", "reference.columns", "reference.counts",
                              "reference.mean", "reference.quantiles", "reference.std"]
    assert arrays["reference.quantiles"].shape == (2, 3, 64)
    loaded = CalibrationChain.from_state(state, arrays)
    assert np.array_equal(loaded.transform(case.Xs, case.ys), chain.transform(case.Xs, case.ys))


def test_transform_of_1000_by_30_is_fast(bc_case):
    """The weight search calls transform in a loop: every chain well under 0.1 s."""
    case = bc_case
    reps = int(np.ceil(1000 / len(case.ys)))
    Xs, ys = np.tile(case.Xs, (reps, 1))[:1000], np.tile(case.ys, reps)[:1000]
    assert Xs.shape == (1000, 30)
    for steps in (["moment"], ["histogram"], ["soft"], ["adaptive_soft"], ["iterative_soft"],
                  ["moment", "adaptive_soft"], ["moment", "iterative_soft"]):
        chain = CalibrationChain(steps).fit(case.X, case.y, case.columns)
        for report in (False, True):
            best = np.inf
            for _ in range(3):
                start = time.perf_counter()
                chain.transform(Xs, ys, report=report)
                best = min(best, time.perf_counter() - start)
            assert best < 0.1, (steps, report, best)
