"""The reinforcement-learning weight search and the learned-weight hybrid."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.errors import ClinisynthError
from clinisynth.generators import list_generators
from clinisynth.reward import RewardWeights
from clinisynth.weighting import DirichletReinforce
from clinisynth.weights import DEFAULT_GENERATORS
from conftest import FAST_PARAMS

TARGET = np.array([0.6, 0.3, 0.1, 0.0, 0.0])


def quadratic(w: np.ndarray) -> tuple[float, dict[str, float]]:
    return -float(((w - TARGET) ** 2).sum()), {}


def test_policy_moves_toward_the_best_weights():
    result = DirichletReinforce(episodes=96, seed=0).search(list("abcde"), quadratic)
    learned = np.array(list(result.weights.values()))
    uniform_error = ((np.full(5, 0.2) - TARGET) ** 2).sum()
    assert ((learned - TARGET) ** 2).sum() < 0.25 * uniform_error
    assert learned.argmax() == 0
    assert abs(learned.sum() - 1) < 1e-9
    assert len(result.episodes) == 96 and result.stopped_by == "episodes"
    # later episodes score better on average than the first ones: the policy learned
    rewards = result.rewards
    assert np.mean(rewards[-24:]) > np.mean(rewards[:24])


def test_search_is_reproducible_and_validates():
    a = DirichletReinforce(episodes=24, seed=3).search(list("abc"), quadratic_3)
    b = DirichletReinforce(episodes=24, seed=3).search(list("abc"), quadratic_3)
    assert a.weights == b.weights and a.rewards == b.rewards
    with pytest.raises(ClinisynthError, match="batch_size"):
        DirichletReinforce(episodes=4, batch_size=6)


def quadratic_3(w: np.ndarray) -> tuple[float, dict[str, float]]:
    return -float(((w - np.array([0.2, 0.2, 0.6])) ** 2).sum()), {}


def test_reward_penalises_memorisation_only_beyond_the_margin():
    rw = RewardWeights()
    assert rw.combine(0.9, 0.8, 0.52) == pytest.approx(1.7)
    assert rw.combine(0.9, 0.8, 1.0) == pytest.approx(0.7)
    assert rw.combine(0.9, 0.8, 0.775) == pytest.approx(1.2)


def test_reward_privacy_knob_and_its_checks():
    knob = RewardWeights(privacy=3.0, privacy_margin=0.0)
    assert knob.combine(0.9, 0.8, 0.5) == pytest.approx(1.7)  # no penalty at 0.5
    assert knob.combine(0.9, 0.8, 0.6) == pytest.approx(1.7 - 3 * 0.1 / 0.5)
    for bad, needle in (({"privacy": -1.0}, "privacy must be a non-negative"),
                        ({"utility": float("nan")}, "utility must be a non-negative"),
                        ({"privacy_margin": 0.5}, "privacy_margin must be in [0, 0.5)")):
        with pytest.raises(ClinisynthError, match=re.escape(needle)):
            RewardWeights(**bad)


def test_synthesizer_names_an_unknown_reward_key(mixed_table):
    syn = HybridSynthesizer(weights="gmm", calibration=None, reward={"privcy": 2.0})
    with pytest.raises(ClinisynthError, match="reward: unknown key 'privcy'"):
        syn.fit(mixed_table, "outcome")


@pytest.fixture(scope="module")
def learned(mixed_table):
    syn = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 18})
    return syn.fit(mixed_table, "outcome")


def test_learned_hybrid_keeps_weights_and_trace(learned):
    result = learned.search_
    assert result is not None and len(result.episodes) == 18
    assert abs(sum(learned.weights_.values()) - 1) < 1e-9
    assert set(learned.weights_) <= set(result.weights)
    for episode in result.episodes:
        assert set(episode.parts) == {"ks", "pair_trend", "fidelity", "utility_f1", "dcr_share"}
        assert 0 <= episode.parts["dcr_share"] <= 1


def test_learned_hybrid_is_reproducible_and_round_trips(learned, mixed_table, tmp_path):
    again = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 18})
    again.fit(mixed_table, "outcome")
    assert again.weights_ == learned.weights_
    learned.save(tmp_path / "m")
    loaded = HybridSynthesizer.load(tmp_path / "m")
    assert loaded.search_.to_dict() == learned.search_.to_dict()
    pd.testing.assert_frame_equal(learned.sample(100), loaded.sample(100))


def test_tiny_class_falls_back_to_uniform_with_a_warning(mixed_table):
    small = pd.concat([mixed_table[mixed_table["outcome"] == "No"],
                       mixed_table[mixed_table["outcome"] == "Yes"].head(3)])
    with pytest.warns(UserWarning, match="uniform weights are used"):
        syn = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS).fit(small, "outcome")
    assert syn.search_ is None
    assert len(set(syn.weights_.values())) == 1
    assert (syn.sample(20, class_counts={"Yes": 20})["outcome"] == "Yes").all()


def test_generators_restrict_the_search_and_are_saved(mixed_table, tmp_path):
    syn = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 12},
                            generators=["cvae", "gmm"])
    syn.fit(mixed_table, "outcome")
    assert set(syn.search_.weights) == {"gmm", "cvae"}  # registry order, only these searched
    assert set(syn.weights_) <= {"gmm", "cvae"}
    assert set(syn.generators_) <= {"gmm", "cvae"}  # no resampler was fitted for sampling
    syn.save(tmp_path / "m")
    loaded = HybridSynthesizer.load(tmp_path / "m")
    assert loaded.generators == ["cvae", "gmm"]
    pd.testing.assert_frame_equal(syn.sample(50), loaded.sample(50))


def test_one_generator_needs_no_search_and_uniform_ranges_over_the_given_ones(mixed_table):
    one = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, generators=["gmm"])
    one.fit(mixed_table, "outcome")
    assert one.search_ is None and one.weights_ == {"gmm": 1.0}
    two = HybridSynthesizer(weights="uniform", seed=0, generator_params=FAST_PARAMS,
                            generators=["noise", "gmm"]).fit(mixed_table, "outcome")
    assert two.weights_ == {"noise": 0.5, "gmm": 0.5}


@pytest.mark.parametrize("options, message", [
    ({"generators": ["gmm", "magic"]}, "generators: unknown generator 'magic'"),
    ({"generators": []}, "generators: name at least one generator"),
    ({"generators": "gmm"}, "generators: give 'all' or a list of generator names"),
    ({"generators": ["gmm", "gmm"]}, "generators: a generator is named twice"),
    ({"generators": ["gmm"], "weights": {"gmm": 1, "smote": 1}},
     "weights: 'smote' is not among generators (gmm)"),
    ({"generators": ["gmm"], "weights": "noise"}, "weights: 'noise' is not among generators"),
])
def test_bad_generators_fail_before_fitting(mixed_table, options, message):
    with pytest.raises(ClinisynthError, match=re.escape(message)):
        HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, **options).fit(
            mixed_table, "outcome")


def test_default_generators_leave_out_the_resamplers_and_all_restores_them(mixed_table):
    default = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 6})
    default.fit(mixed_table, "outcome")
    assert set(default.search_.weights) == set(DEFAULT_GENERATORS) == {"gmm", "cvae"}
    every = HybridSynthesizer(seed=0, generator_params=FAST_PARAMS, search={"episodes": 6},
                              generators="all").fit(mixed_table, "outcome")
    assert set(every.search_.weights) == set(list_generators())
    # given weights are not restricted by the default set, only by an explicit one
    given = HybridSynthesizer(weights={"noise": 1, "smote": 1}, seed=0,
                              generator_params=FAST_PARAMS).fit(mixed_table, "outcome")
    assert given.weights_ == {"noise": 0.5, "smote": 0.5}
    uniform = HybridSynthesizer(weights="uniform", seed=0,
                                generator_params=FAST_PARAMS).fit(mixed_table, "outcome")
    assert uniform.weights_ == {"gmm": 0.5, "cvae": 0.5}
