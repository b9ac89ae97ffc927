"""One contract, checked for every registered step (as the generator and calibrator suites do).

A hybrid is fitted on a table that calls for every step (identifier, dates, free text, a survival
pair, a rule, missing cells, two classes large enough to learn weights). Each step's input and
output during the fit are recorded; then, per step:

* round trip: a step before the source gives back, after ``inverse_transform``, rows whose
  ``transform`` equals the training rows' (the model side survives the trip); a map after the
  source keeps each numeric column's order within each class; a filter's verdict covers every
  row;
* state: ``from_state(get_state())`` rebuilds a step whose state and outputs are the same;
* determinism: two fits with the same seed give the same state;
* bad input: a batch of the wrong kind, or a table missing a column, is a one-line
  :class:`ClinisynthError`;
* a statement of what ``fit`` reads from the training rows.

A new step registered in :data:`clinisynth.steps.STEPS` must be covered here: the suite fails
until the table exercises it.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError
from clinisynth.steps import STEPS
from clinisynth.steps.base import Batch, Draw, Step, TableStep
from conftest import FAST_PARAMS


def contract_table(n: int = 160, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    admitted = pd.Timestamp("2021-01-01") + pd.to_timedelta(rng.integers(0, 400, n), unit="D")
    time = rng.integers(30, 900, n)
    marker = rng.normal(1.0, 0.3, n)
    marker[rng.random(n) < 0.15] = np.nan
    return pd.DataFrame({
        "mrn": [f"MRN{v:06d}" for v in rng.choice(10**6, n, replace=False)],
        "admitted": admitted.strftime("%Y-%m-%d"),
        "note": [f"patient seen in clinic {i} no change since last review" for i in range(n)],
        "age": rng.integers(30, 85, n),
        "sex": rng.choice(["F", "M"], n),
        "marker": marker,
        "time": time,
        "visit": np.floor(rng.uniform(0, 1, n) * time).astype(int),
        "status": rng.integers(0, 2, n),
        "outcome": rng.choice(["No", "Yes"], n, p=[0.6, 0.4]),
    })


def fit_recording(seed: int = 0) -> tuple[HybridSynthesizer, dict[str, tuple[Batch, Batch]]]:
    """The hybrid fitted on the contract table, and each step's (input, output) batches."""
    seen: dict[str, tuple[Batch, Batch]] = {}
    original = Step.fit_transform

    def recording(step: Step, batch: Batch, ctx: Any) -> Batch:
        out = original(step, batch, ctx)
        seen[step.name] = (batch, out)
        return out

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Step, "fit_transform", recording)
        for cls in _registered():  # the steps that override fit_transform
            if "fit_transform" in vars(cls):
                patch.setattr(cls, "fit_transform", _recorder(vars(cls)["fit_transform"], seen))
        syn = HybridSynthesizer(seed=seed, generator_params=FAST_PARAMS,
                                search={"episodes": 6, "batch_size": 3})
        syn.fit(contract_table(), "outcome")
    return syn, seen


def _recorder(method: Any, seen: dict[str, tuple[Batch, Batch]]) -> Any:
    def recording(step: Step, batch: Batch, ctx: Any) -> Batch:
        out = method(step, batch, ctx)
        seen[step.name] = (batch, out)
        return out

    return recording


def _registered() -> list[type[Step]]:
    return [STEPS.get(name) for name in STEPS.names()]


#: the steps of the DP pipeline (their behaviour is checked in tests/dp/test_dp_mode.py);
#: dp_rules only where the schema declares rules
DP_STEPS = ["dp_domain", "dp_tree"]
#: the steps of the default pipeline
DEFAULT_STEPS = [n for n in STEPS.names() if n not in [*DP_STEPS, "dp_rules"]]


@pytest.fixture(scope="module")
def fitted() -> tuple[HybridSynthesizer, dict[str, tuple[Batch, Batch]]]:
    return fit_recording()


def test_the_table_calls_for_every_registered_step(fitted):
    syn, seen = fitted
    assert [s.name for s in syn.pipeline_.steps] == DEFAULT_STEPS
    assert set(seen) == set(DEFAULT_STEPS)
    dp = HybridSynthesizer(epsilon=10.0, seed=0).fit(contract_table(), "outcome")
    assert [s.name for s in dp.pipeline_.steps] == DP_STEPS


@pytest.mark.parametrize("name", STEPS.names())
def test_states_what_it_reads(name):
    cls = STEPS.get(name)
    assert cls.name == name and isinstance(cls.reads, str) and len(cls.reads) > 20


@pytest.mark.parametrize("name", DEFAULT_STEPS)
def test_round_trip(fitted, name):
    syn, seen = fitted
    pipeline = syn.pipeline_
    step = pipeline.step(name)
    batch_in, _ = seen[name]
    rng = np.random.default_rng(0)
    index = pipeline.steps.index(step)
    if step.is_source:
        X, y = step.draw(np.array([30, 20]), rng)
        assert X.shape == (50, batch_in.X.shape[1]) and np.bincount(y).tolist() == [30, 20]
    elif index < pipeline.steps.index(pipeline.source):
        forward = step.transform(batch_in, np.random.default_rng(1))
        back = step.inverse_transform(forward, rng, Draw())
        again = step.transform(back, np.random.default_rng(1))
        _assert_same(again, forward)
    else:
        X, y = pipeline.source.draw(np.array([40, 40]), rng)
        mapped = step.transform(Batch(X=X, y=y), rng)
        for k in (0, 1):
            for j in range(X.shape[1]):
                order = np.argsort(X[y == k, j], kind="stable")
                assert np.all(np.diff(mapped.X[y == k, j][order]) >= -1e-9)
    if step.hard is not None:
        record = pipeline.record_view(contract_table())
        verdict = step.check(record)
        assert len(verdict.refused) == len(record)
        assert len(verdict.reasons) == int(verdict.refused.sum())


@pytest.mark.parametrize("name", DEFAULT_STEPS)
def test_state_round_trip(fitted, name):
    syn, seen = fitted
    step = syn.pipeline_.step(name)
    meta, arrays = step.get_state()
    again = type(step).from_state(meta, arrays)
    meta2, arrays2 = again.get_state()
    assert meta2 == meta and arrays2.keys() == arrays.keys()
    for key in arrays:
        np.testing.assert_array_equal(arrays2[key], arrays[key])
    batch_in, _ = seen[name]
    if not step.is_source and step.hard is None:
        _assert_same(again.transform(batch_in, np.random.default_rng(3)),
                     step.transform(batch_in, np.random.default_rng(3)))


def test_same_seed_same_states(fitted):
    syn, _ = fitted
    again, _ = fit_recording()
    for a, b in zip(syn.pipeline_.steps, again.pipeline_.steps, strict=True):
        (meta_a, arrays_a), (meta_b, arrays_b) = a.get_state(), b.get_state()
        meta_a.pop("fit_seconds", None), meta_b.pop("fit_seconds", None)
        _drop_times(meta_a), _drop_times(meta_b)
        assert meta_a == meta_b, a.name
        for key in arrays_a:
            np.testing.assert_array_equal(arrays_a[key], arrays_b[key], err_msg=a.name)


@pytest.mark.parametrize("name", DEFAULT_STEPS)
def test_bad_input_is_one_line(fitted, name):
    syn, seen = fitted
    step = syn.pipeline_.step(name)
    batch_in, _ = seen[name]
    if batch_in.frame is not None:
        bad = [Batch(X=np.zeros((3, 2)), y=np.zeros(3, dtype=int))]
        if isinstance(step, TableStep):  # only the target left
            bad.append(Batch(frame=batch_in.frame[["outcome"]]))
    else:
        bad = [Batch(frame=pd.DataFrame({"a": [1.0]}))]
    for batch in bad:
        if not _transforms(step):
            continue
        with pytest.raises(ClinisynthError) as info:
            step.transform(batch, np.random.default_rng(0))
        assert "\n" not in str(info.value) and step.name in str(info.value)


def _transforms(step: Step) -> bool:
    """Whether the step's forward transform reads its batch (identity steps do not)."""
    return type(step).transform is not Step.transform


def _assert_same(a: Batch, b: Batch) -> None:
    """The same rows; a table's dtypes may differ (the user-side inverse restores the schema's
    dtypes, e.g. int64 days where the forward pass gave float64)."""
    if a.frame is not None:
        pd.testing.assert_frame_equal(a.frame.reset_index(drop=True),
                                      b.frame.reset_index(drop=True), check_exact=False,
                                      check_dtype=False)
    else:
        np.testing.assert_allclose(a.X, b.X, atol=1e-9)
        np.testing.assert_array_equal(a.y, b.y)


def _drop_times(meta: Any) -> None:
    """Wall-clock seconds are the only part of a state that a second fit may change."""
    if isinstance(meta, dict):
        for key in [k for k in meta if k in ("seconds", "fit_seconds")]:
            meta.pop(key)
        for value in meta.values():
            _drop_times(value)
    elif isinstance(meta, list):
        for value in meta:
            _drop_times(value)
