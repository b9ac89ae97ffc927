"""Where SDMetrics defines the same score, ours must agree with it column by column."""

from __future__ import annotations

import os

import numpy as np
import pytest

from clinisynth import HybridSynthesizer
from clinisynth.audit import fidelity as fid
from clinisynth.schema import infer_schema

try:
    import sdmetrics  # noqa: F401
except ImportError:
    if os.environ.get("CI"):
        raise  # CI installs the `test` extra, which has sdmetrics
    pytest.skip("sdmetrics not installed (pip install -e '.[test]')", allow_module_level=True)
from sdmetrics.column_pairs import ContingencySimilarity, CorrelationSimilarity  # noqa: E402
from sdmetrics.single_column import KSComplement, TVComplement  # noqa: E402

from .helpers import split  # noqa: E402

TOL = 1e-9


def check_marginals(real, syn, schema) -> int:
    """Compare every column's KS and TV with SDMetrics' complements; return columns checked."""
    for col in fid.column_scores(real, syn, schema):
        name = col.name
        if col.kind in ("continuous", "integer"):
            theirs = KSComplement.compute(real[name], syn[name])
            assert 1 - col.ks == pytest.approx(theirs, abs=TOL), name
        else:
            theirs = TVComplement.compute(real[name], syn[name])
            assert 1 - col.tv == pytest.approx(theirs, abs=TOL), name
    return len(schema.columns)


def check_pairs(real, syn, schema, limit: int = 60) -> int:
    """Compare numeric-pair correlation similarity and categorical-pair contingency similarity."""
    checked = 0
    for pair in fid.correlation_pairs(real, syn, schema)[:limit]:
        cols = [pair["a"], pair["b"]]
        theirs = CorrelationSimilarity.compute(real[cols], syn[cols])
        assert pair["correlation_similarity"] == pytest.approx(theirs, abs=TOL), cols
        checked += 1
    for pair in fid.contingency_pairs(real, syn, schema):
        cols = [pair["a"], pair["b"]]
        theirs = ContingencySimilarity.compute(real[cols], syn[cols])
        assert pair["contingency"] == pytest.approx(theirs, abs=TOL), cols
        checked += 1
    return checked


def test_breast_cancer_gmm_agrees_with_sdmetrics(bc_70, bc_gmm):
    train, _, target = bc_70
    schema = infer_schema(train, target)
    assert check_marginals(train, bc_gmm, schema) == 31
    assert check_pairs(train, bc_gmm, schema, limit=500) == 435  # every numeric pair
    # and the means we report are the means of those per-column scores
    ks = [KSComplement.compute(train[c], bc_gmm[c]) for c in fid.numeric_names(schema)]
    assert fid.ks_mean(train, bc_gmm, schema) == pytest.approx(1 - np.mean(ks), abs=TOL)


def test_liver_with_strings_gaps_and_three_classes_agrees_with_sdmetrics(liver):
    df, target = liver
    train, _ = split(df, target, 0.3)
    syn = HybridSynthesizer(weights="gmm", seed=0).fit(train, target).sample(300)
    schema = infer_schema(train, target)
    assert train.isna().any().any() and syn.isna().any().any()
    assert check_marginals(train, syn, schema) == 19
    n_categorical = len(fid.discrete_names(schema))
    assert n_categorical >= 5
    checked = check_pairs(train, syn, schema)
    assert checked >= n_categorical * (n_categorical - 1) // 2
