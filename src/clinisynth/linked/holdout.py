"""Whole patients held out: each patient's parent row and every child row go to one side."""

from __future__ import annotations

from collections.abc import Mapping

import pandas as pd
from sklearn.model_selection import train_test_split

from clinisynth.schema.links import LinkSchema

Tables = dict[str, pd.DataFrame]


def split_patients(frames: Mapping[str, pd.DataFrame], links: LinkSchema, target: str | None,
                   fraction: float, seed: int) -> tuple[Tables, Tables]:
    """``(train, holdout)``: a ``fraction`` of the patients held out, stratified by the
    parent's ``target`` where every class has two patients (``random_state=seed``)."""
    parent = frames[links.parent]
    labels = parent[target] if target is not None and target in parent else None
    if labels is not None and labels.value_counts().min() < 2:
        labels = None
    train_ids, hold_ids = train_test_split(parent[links.key], test_size=fraction,
                                           stratify=labels, random_state=seed)
    keys = {links.parent: links.key, **{c.table: c.key for c in links.children}}

    def take(ids: pd.Series) -> Tables:
        return {n: t[t[keys[n]].isin(ids)].reset_index(drop=True) for n, t in frames.items()}

    return take(train_ids), take(hold_ids)
