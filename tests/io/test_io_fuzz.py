"""Property-based fuzzing of the input path: any file -> a valid table or one clear error line.

Each example is a hostile table (see ``fuzz_tables.py``) run through ``clinisynth generate``
with fast settings. Profiles: ``ci`` (default, 25 examples, derandomized so every run tests the
same cases) and ``large`` (500 examples), chosen with ``HYPOTHESIS_PROFILE=large``. The tally of
outcomes is printed at the end of the test (``pytest -s``); ``benchmarks/fuzz_inputs.py`` runs
the same strategy and prints the tally too.
"""

from __future__ import annotations

import os
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, given, settings

from fuzz_tables import Case, hostile_cases, run_case

settings.register_profile(
    "ci", max_examples=25, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.register_profile(
    "large", max_examples=500, deadline=None, derandomize=True, database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
PROFILE = os.environ.get("HYPOTHESIS_PROFILE", "ci")

TALLY: Counter[str] = Counter()


@settings(settings.get_profile(PROFILE))
@given(case=hostile_cases())
def _fuzz(case: Case) -> None:
    with tempfile.TemporaryDirectory(prefix="clinisynth-fuzz-") as tmp:
        TALLY[run_case(case, Path(tmp))] += 1


def test_generate_never_crashes_on_hostile_tables():
    TALLY.clear()
    _fuzz()
    print(f"\nfuzz profile {PROFILE}: {sum(TALLY.values())} cases, {TALLY['valid']} valid, "
          f"{TALLY['error']} clear errors, 0 other")
    assert TALLY["valid"] > 0 and TALLY["error"] > 0  # both outcomes are exercised
