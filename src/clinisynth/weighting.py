"""Learning the hybrid's generator weights by reinforcement learning.

The action is a weight vector ``w`` on the simplex over the fitted generators. The policy is a
Dirichlet distribution ``pi(w) = Dir(w; alpha)``, ``alpha = exp(theta)``, trained by REINFORCE with
a baseline: each iteration draws a batch of ``B`` weight vectors, scores each with the reward
``R(w)``, standardises the rewards within the batch (the batch mean is the baseline), and steps

    theta <- theta + lr * mean_b[ A_b * alpha * (log w_b - psi(alpha) + psi(sum alpha)) ]

(the score function of the Dirichlet, by the chain rule through ``alpha = exp(theta)``). The
learned weights are the policy mean ``alpha / sum(alpha)``.

Why a Dirichlet policy: it lives on the simplex by construction (no projection or softmax of
noisy logits), its mean is the weight vector we want, and its concentration ``sum(alpha)`` grows
as rewards consistently favour a direction, so exploration shrinks by itself. A grid bandit over
five generators needs hundreds of arms for a useful resolution; the policy gradient shares
information between neighbouring weight vectors instead.

The reward itself is computed by :mod:`clinisynth.reward` on a validation split that the
generators did not fit.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from scipy.special import digamma

from clinisynth.errors import ClinisynthError


@dataclass
class Episode:
    weights: list[float]
    reward: float
    parts: dict[str, float] = field(default_factory=dict)


@dataclass
class SearchResult:
    """The learned weights, the policy's concentration, and every episode in order."""

    names: list[str]
    weights: dict[str, float]
    concentration: float
    episodes: list[Episode]
    seconds: float
    stopped_by: str = "episodes"  # or "time"

    @property
    def rewards(self) -> list[float]:
        return [e.reward for e in self.episodes]

    def to_dict(self) -> dict[str, Any]:
        return {"names": self.names, "weights": self.weights, "concentration": self.concentration,
                "seconds": self.seconds, "stopped_by": self.stopped_by,
                "episodes": [asdict(e) for e in self.episodes]}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SearchResult:
        return cls(names=list(data["names"]), weights=dict(data["weights"]),
                   concentration=float(data["concentration"]), seconds=float(data["seconds"]),
                   stopped_by=str(data.get("stopped_by", "episodes")),
                   episodes=[Episode(**e) for e in data["episodes"]])


class DirichletReinforce:
    """REINFORCE with a Dirichlet policy over the simplex (see the module docstring).

    Parameters
    ----------
    episodes : int
        Most reward evaluations.
    seconds : float, optional
        Wall-clock cap, off by default: the budget is counted in episodes only, so the learned
        weights are a function of the seed and the data, not of the machine's speed or load.
        When given, the search stops after the batch that crosses it, and the result then
        depends on timing (``SearchResult.stopped_by`` says which budget ended the search).
    batch_size : int
        Weight vectors per policy update.
    learning_rate : float
        Step on ``theta = log alpha``.
    initial_concentration : float
        ``sum(alpha)`` at the start (uniform mean); small means broad exploration.
    """

    def __init__(self, episodes: int = 60, seconds: float | None = None, batch_size: int = 6,
                 learning_rate: float = 0.25, initial_concentration: float = 5.0,
                 seed: int | None = None) -> None:
        if episodes < batch_size or batch_size < 2:
            raise ClinisynthError("weight search: need batch_size >= 2 and episodes >= batch_size")
        if (seconds is not None and not seconds > 0) or learning_rate <= 0 \
                or initial_concentration <= 0:
            raise ClinisynthError(
                "weight search: seconds, learning_rate and concentration must be positive")
        self.episodes = episodes
        self.seconds = seconds
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.initial_concentration = initial_concentration
        self.seed = seed

    def search(self, names: list[str],
               evaluate: Callable[[np.ndarray], tuple[float, dict[str, float]]],
               on_episode: Callable[[int, int], None] | None = None) -> SearchResult:
        """Learn weights over ``names``; ``evaluate(w)`` returns ``(reward, parts)``."""
        rng = np.random.default_rng(self.seed)
        g = len(names)
        theta = np.full(g, np.log(self.initial_concentration / g))
        episodes: list[Episode] = []
        stopped_by = "episodes"
        start = time.perf_counter()
        if g == 1:
            w = np.ones(1)
            reward, parts = evaluate(w)
            episodes.append(Episode([1.0], float(reward), parts))
        while g > 1 and len(episodes) + self.batch_size <= self.episodes:
            alpha = np.exp(theta)
            batch = rng.dirichlet(alpha, size=self.batch_size)
            batch = np.clip(batch, 1e-12, None)
            batch /= batch.sum(axis=1, keepdims=True)
            rewards = np.empty(self.batch_size)
            for b, w in enumerate(batch):
                rewards[b], parts = evaluate(w)
                episodes.append(Episode([float(x) for x in w], float(rewards[b]), parts))
                if on_episode:
                    on_episode(len(episodes), self.episodes)
            spread = rewards.std()
            if spread > 0:
                advantage = (rewards - rewards.mean()) / spread
                score = np.log(batch) - digamma(alpha) + digamma(alpha.sum())
                theta += self.learning_rate * (advantage[:, None] * score * alpha).mean(axis=0)
            if self.seconds is not None and time.perf_counter() - start > self.seconds:
                stopped_by = "time"
                break
        alpha = np.exp(theta)
        mean = alpha / alpha.sum()
        return SearchResult(names=list(names),
                            weights={n: float(m) for n, m in zip(names, mean, strict=True)},
                            concentration=float(alpha.sum()), episodes=episodes,
                            seconds=time.perf_counter() - start, stopped_by=stopped_by)
