"""A seeded longitudinal cohort for tests, examples and the scale benchmark (no download).

Patients: ``id``, ``age``, ``sex``, ``arm``, ``futime`` (days of follow-up) and ``status``
(1 = died at ``futime``; the risk rises with age and the baseline lab). Visits: day 0, then
gaps of about 6 months, then a year (``day <= futime``, strictly increasing), with two labs
that follow a patient-level AR(1) process (``lab_a``: log-normal, lag-1 correlation about 0.8,
missing 10 % of the time; ``lab_b``: a drift that depends on the arm) and a stage 1-4 that
never falls. Infections: contiguous risk intervals ``(tstart, tstop]`` with a counter.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def simulate_cohort(patients: int = 300, seed: int = 0, mean_visits: float = 6.0,
                    gap_days: int = 365) -> dict[str, pd.DataFrame]:
    """``{"patients", "visits", "infections"}`` for ``patients`` patients (module doc);
    visits after the 6-month one come every ``gap_days`` (± 20) days."""
    rng = np.random.default_rng(seed)
    ids = np.arange(1, patients + 1)
    age = np.round(rng.normal(55, 10, patients), 1)
    sex = rng.choice(["f", "m"], patients, p=[0.6, 0.4])
    arm = rng.integers(0, 2, patients)
    base = rng.normal(0, 1, patients)
    hazard = np.exp(0.04 * (age - 55) + 0.5 * base)
    futime = np.clip(rng.exponential(3000 / hazard), 200, 5000).astype(int)
    status = (rng.random(patients) < 0.4 * hazard / (1 + 0.4 * hazard) + 0.1).astype(int)
    frame = pd.DataFrame({"id": ids, "age": age, "sex": sex, "arm": arm, "futime": futime,
                          "status": status})
    visits = _visits(rng, ids, futime, base, arm, mean_visits, gap_days)
    infections = _infections(rng, ids, futime)
    return {"patients": frame, "visits": visits, "infections": infections}


def _visits(rng: np.random.Generator, ids: np.ndarray, futime: np.ndarray, base: np.ndarray,
            arm: np.ndarray, mean_visits: float, gap_days: int) -> pd.DataFrame:
    rows = []
    for i, pid in enumerate(ids):
        wanted = 1 + rng.poisson(mean_visits - 1)
        days = [0]
        while len(days) < wanted:
            gap = 182 if len(days) == 1 else gap_days
            day = days[-1] + gap + int(rng.integers(-20, 21))
            if day > futime[i]:
                break
            days.append(day)
        a, b, stage = base[i], 0.0, int(rng.integers(1, 4))
        for t, day in enumerate(days):
            a = 0.8 * a + 0.6 * rng.normal() if t else a
            b = b + (0.3 if arm[i] else -0.1) + 0.2 * rng.normal()
            stage = min(4, stage + int(rng.random() < 0.1))
            lab_a = np.round(np.exp(1 + 0.5 * a), 1) if rng.random() > 0.1 else np.nan
            rows.append((pid, day, lab_a, np.round(10 + b, 2), stage))
    return pd.DataFrame(rows, columns=["id", "day", "lab_a", "lab_b", "stage"])


def _infections(rng: np.random.Generator, ids: np.ndarray, futime: np.ndarray
                ) -> pd.DataFrame:
    rows = []
    for i, pid in enumerate(ids):
        if rng.random() < 0.3:
            continue
        start, n = 0, 1
        end = int(min(futime[i], 400))
        while True:
            stop = start + int(rng.integers(20, 200))
            if stop >= end:
                rows.append((pid, start, end, n, 0))
                break
            rows.append((pid, start, stop, n, 1))
            start, n = stop, n + 1
    return pd.DataFrame(rows, columns=["id", "tstart", "tstop", "enum", "status"])
