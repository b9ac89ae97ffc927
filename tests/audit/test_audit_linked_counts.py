"""The children-per-patient floor a protected model can reach: counts clipped to their
protected ends, by the protect step's own rule."""

import numpy as np
import pandas as pd

from clinisynth.audit.fidelity import ks_statistic
from clinisynth.audit.linked import linked_audit
from clinisynth.protected_ends import protected_counts
from clinisynth.schema.links import infer_links


def test_a_tail_fewer_than_k_patients_hold_is_clipped_inward():
    n = np.array([1] * 60 + [2] * 20 + [3] * 4 + [4] * 4)
    # the 5th largest count is 3, held by 4 patients: the bound moves in to 2 (20 patients)
    assert protected_counts(n, 5).max() == 2 and protected_counts(n, 5).min() == 1
    held = np.array([1] * 60 + [2] * 20 + [3] * 6 + [8])
    assert protected_counts(held, 5).max() == 3  # 3 is held by 6: the one 8 is clipped to it
    assert np.array_equal(protected_counts(np.array([1, 9, 2]), 5), [1, 9, 2])  # < 2k


def test_the_linked_audit_reports_the_protected_floor():
    rng = np.random.default_rng(0)

    def tables(n_children: np.ndarray, first_id: int) -> dict[str, pd.DataFrame]:
        ids = np.arange(first_id, first_id + len(n_children))
        parent = pd.DataFrame({"id": ids, "age": rng.integers(20, 80, len(ids)),
                               "status": rng.integers(0, 2, len(ids))})
        rows = [(i, d) for i, m in zip(ids, n_children, strict=True) for d in range(m)]
        child = pd.DataFrame(rows, columns=["id", "visit"]).assign(
            lab=lambda f: rng.normal(size=len(f)))
        return {"patients": parent, "visits": child}

    train = tables(np.array([1] * 60 + [2] * 20 + [3] * 4 + [4] * 4), 1)
    holdout = tables(np.array([1] * 25 + [2] * 8 + [3] * 3 + [5] * 2), 1000)
    links = infer_links(train)
    report = linked_audit(train, holdout, train, links, target="status", k=5)
    ks = report["dynamics"]["visits"]["children_ks"]
    hold_n = holdout["visits"].groupby("id").size()
    clipped = pd.Series(protected_counts(train["visits"].groupby("id").size().to_numpy(), 5))
    assert ks["training_protected"] == ks_statistic(hold_n, clipped)
    assert ks["training_protected"] > ks["training"]  # the clipped tail costs: can fail
