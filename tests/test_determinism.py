"""Same seed, same output, whatever the machine: thread counts do not change a byte, and the
weight search's budget is counted in episodes (a wall-clock cap only when asked for)."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch
from threadpoolctl import threadpool_limits

from clinisynth import HybridSynthesizer
from clinisynth.weighting import DirichletReinforce
from conftest import FAST_PARAMS, REPO, make_mixed_table

THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")


def test_generate_is_byte_identical_with_1_and_2_threads(tmp_path):
    """Two processes, one limited to 1 thread and one to 2, same seed: the same file. Uniform
    weights (all five generators, the CVAE's matrix products included), the default
    calibration and the privacy guard; the learned search is covered in-process below."""
    data = tmp_path / "in.csv"
    make_mixed_table(60, seed=3).to_csv(data, index=False)
    outputs = []
    for threads in (1, 2):
        out = tmp_path / f"out{threads}.csv"
        env = {**os.environ, "PYTHONPATH": str(REPO / "src"),
               **{var: str(threads) for var in THREAD_VARS}}
        proc = subprocess.run(
            [sys.executable, "-c", "from clinisynth.cli import main; main()", "generate",
             "--data", str(data), "--target", "outcome", "--rows", "120", "--seed", "4",
             "--weights", "uniform", "--holdout-fraction", "0", "--out", str(out)],
            env=env, capture_output=True, text=True, timeout=300)
        assert proc.returncode == 0, proc.stderr
        outputs.append(out.read_bytes())
    assert len(outputs[0]) > 1000 and outputs[0].count(b"\n") == 121
    assert outputs[0] == outputs[1]


def _learned(threads: int) -> HybridSynthesizer:
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        with threadpool_limits(threads):
            return HybridSynthesizer(seed=2, generator_params=FAST_PARAMS,
                                     search={"episodes": 12}, calibration=None,
                                     privacy_guard=False).fit(make_mixed_table(120), "outcome")
    finally:
        torch.set_num_threads(before)


def test_learned_weights_do_not_depend_on_thread_count():
    one, two = _learned(1), _learned(2)
    assert one.search_ is not None and one.search_.stopped_by == "episodes"
    assert len(one.search_.episodes) == 12
    assert one.search_.rewards == two.search_.rewards
    assert one.weights_ == two.weights_


def test_search_budget_is_episodes_unless_a_cap_is_asked_for():
    assert DirichletReinforce().seconds is None
    calls = []

    def slow_reward(w):
        calls.append(w)
        return float(w[0]), {}

    result = DirichletReinforce(episodes=24, batch_size=4, seed=0).search(["a", "b"], slow_reward)
    assert result.stopped_by == "episodes" and len(result.episodes) == 24
    capped = DirichletReinforce(episodes=24, batch_size=4, seconds=1e-9, seed=0).search(
        ["a", "b"], slow_reward)
    assert capped.stopped_by == "time" and len(capped.episodes) == 4  # after the first batch
    with pytest.raises(ValueError, match="seconds"):
        DirichletReinforce(seconds=0)


def test_api_and_cli_cap_reach_the_search(tmp_path):
    syn = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, calibration=None,
                            privacy_guard=False, search={"episodes": 12, "seconds": 1e-9})
    syn.fit(make_mixed_table(80), "outcome")
    assert syn.search_.stopped_by == "time" and len(syn.search_.episodes) == 6

    from clinisynth.cli.options import FitChoices

    def fit_options(*args: object) -> object:
        names = ("weights", "calibration", "privacy_guard", "seed", "max_search_seconds")
        return FitChoices(**dict(zip(names, args, strict=True))).checked()

    options = fit_options("learned", "none", False, 0, 30.0)
    assert options.synthesizer().search == {"seconds": 30.0}
    assert fit_options("learned", "none", False, 0, None).synthesizer().search is None
