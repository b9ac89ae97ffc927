"""Same seed, same bytes: SHA-256 of synthetic tables, to compare two versions of the code.

For each table and configuration: fit with ``seed=0`` on every row, then hash (the first 16 hex
digits of SHA-256 of the CSV text) of

* ``sample``: ``sample(2000, seed=1)``;
* ``classes``: ``sample(300, class_counts=...)`` (every class, unequal counts, ``seed=2``);
* ``conditioned``: ``sample(200, conditions=..., seed=3)`` where the table has a condition;
* ``raw``: ``uncalibrated(500, seed=4)``;
* ``reloaded``: ``save`` then ``load`` then ``sample(500)`` (no seed: the model's own stream,
  saved with it) followed by a second ``sample(500)``;
* ``chunked``: the 120,000-row ``sample`` split over three chunks (default configuration of the
  smallest table only).

Tables: the bundled breast-cancer and flchain tables, the four single tables of
``../shared/datasets`` (skipped with a note where absent), and a seeded table with an
identifier, dates, free text and a rule, built here. Run on two checkouts and diff the outputs:

    PYTHONPATH=src .venv/bin/python benchmarks/sample_hashes.py --out /tmp/before.txt
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

from clinisynth import HybridSynthesizer
from clinisynth.datasets import load_dataset
from clinisynth.errors import ClinisynthError

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "datasets"
FILES = {"pima": ("pima_diabetes.csv", "type", "age>=40"),
         "cardiac": ("cardiac_cabg_ptca.csv", "procedure", "age>=70"),
         "liver": ("liver_pbc.csv", "status", "sex=f")}
CONFIGS = {
    "default": {},
    "all_uniform": {"weights": "uniform", "generators": "all"},
    "smote_only": {"weights": {"smote": 1.0}},
    "plain": {"weights": "uniform", "calibration": None, "privacy_guard": False},
}


def roles_table(n: int = 400, seed: int = 0) -> pd.DataFrame:
    """Identifier, two ordered dates, free text, a nested numeric pair and a class."""
    rng = np.random.default_rng(seed)
    admit = pd.Timestamp("2020-01-01") + pd.to_timedelta(rng.integers(0, 700, n), unit="D")
    stay = rng.gamma(2.0, 4.0, n).round()
    words = np.array(["pain", "fever", "stable", "follow", "up", "no", "change", "review"])
    return pd.DataFrame({
        "mrn": [f"MRN{v:06d}" for v in rng.choice(10**6, n, replace=False)],
        "admitted": admit.strftime("%Y-%m-%d"),
        "discharged": (admit + pd.to_timedelta(stay, unit="D")).strftime("%Y-%m-%d"),
        "note": [" ".join(rng.choice(words, 6)) + f" visit {i}" for i in range(n)],
        "age": rng.integers(18, 90, n),
        "sbp": rng.normal(130, 15, n).round(),
        "dbp_gap": rng.gamma(3.0, 10.0, n).round(),
        "outcome": rng.choice(["a", "b"], n, p=[0.7, 0.3]),
    }).assign(dbp=lambda d: d["sbp"] - d["dbp_gap"]).drop(columns="dbp_gap")


def tables() -> dict[str, tuple[pd.DataFrame, str, str | None]]:
    out: dict[str, tuple[pd.DataFrame, str, str | None]] = {}
    frame, target = load_dataset("breast_cancer")
    out["breast_cancer"] = (frame, target, "mean radius>=14")
    frame, target = load_dataset("flchain")
    out["flchain"] = (frame, target, "sex=F")
    for name, (file, target, cond) in FILES.items():
        if (SHARED / file).is_file():
            out[name] = (pd.read_csv(SHARED / file), target, cond)
        else:
            print(f"skipping {name}: {SHARED / file} not found", file=sys.stderr)
    out["roles"] = (roles_table(), "outcome", "age>=50")
    return out


def digest(frame: pd.DataFrame) -> str:
    return hashlib.sha256(frame.to_csv(index=False).encode()).hexdigest()[:16]


def attempt(make: Callable[[], pd.DataFrame]) -> str:
    """The table's digest, or the digest of the one-line error that refused it (also an
    outcome that must not change)."""
    try:
        return digest(make())
    except ClinisynthError as exc:
        return "error:" + hashlib.sha256(str(exc).encode()).hexdigest()[:10]


def hashes(frame: pd.DataFrame, target: str, condition: str | None, config: dict,
           chunked: bool) -> dict[str, str]:
    syn = HybridSynthesizer(seed=0, **config).fit(frame, target)
    out = {"sample": attempt(lambda: syn.sample(2000, seed=1))}
    classes = frame[target].value_counts().sort_index().index
    counts = {label: 100 + 50 * i for i, label in enumerate(classes)}
    out["classes"] = attempt(lambda: syn.sample(sum(counts.values()), class_counts=counts,
                                                seed=2))
    if condition:
        out["conditioned"] = attempt(lambda: syn.sample(200, conditions=[condition], seed=3))
    out["raw"] = attempt(lambda: syn.uncalibrated(500, seed=4))
    with tempfile.TemporaryDirectory() as tmp:
        syn.save(Path(tmp) / "model")
        loaded = HybridSynthesizer.load(Path(tmp) / "model")
    out["reloaded"] = attempt(lambda: pd.concat([loaded.sample(500), loaded.sample(500)]))
    if chunked:
        out["chunked"] = attempt(lambda: syn.sample(120_000, seed=5))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--tables", nargs="+", default=None)
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    args = parser.parse_args()
    lines = []
    for name, (frame, target, cond) in tables().items():
        if args.tables and name not in args.tables:
            continue
        for config in args.configs:
            if config != "default" and name in ("flchain", "breast_cancer"):
                continue  # the larger tables run the default configuration only
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                got = hashes(frame, target, cond, CONFIGS[config],
                             chunked=(name, config) == ("roles", "default"))
            for key, value in got.items():
                lines.append(f"{name:14s} {config:12s} {key:12s} {value}")
            print(f"{name} {config}: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    args.out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
