"""Privacy: does the synthetic table sit closer to the training patients than to unseen ones?

All distances are Euclidean in the standardised mixed-type encoding shared with the guard
(:class:`clinisynth.distances.RecordEncoder`, fitted on train; every column, target included).

Sampling never hides memorisation: the *reference* side of every nearest-neighbour search is
a whole table (or, where two sets must be compared at equal size, a seeded sample of the
larger one down to the smaller's size); only the *query* rows are capped at ``sample`` per set
(seeded), which changes the precision of a share, not what it measures. So a table copying its
training rows is flagged whatever its size.

* DCR: distance from each synthetic row to its closest record. ``dcr_median`` is the median
  distance to train. ``dcr_share`` compares, for each synthetic row, its DCR to a train sample
  and to a holdout sample of the same size ``m = min(|train|, |holdout|)``:
  ``share = mean(1[d_train < d_holdout] + ½·1[d_train = d_holdout])``; 0.5 = no memorisation.
  With unequal splits a fully memorised table scores ``0.5 + 0.5·m/|train|`` (only copies of
  the ``m`` sampled train rows can show); a 50/50 split shows it as 1.
* Exact copies: synthetic rows equal in every column to a row of the ``m``-row train sample,
  and the same count against the ``m``-row holdout sample as the baseline (discrete tables
  have many patients sharing a row, so copies only mean something above that baseline).
* NNAA (Yale et al. 2020), for real R and synthetic S of equal size ``min(|R|, |S|)``:
  ``AA = ½ (mean 1[d_RS > d_RR] + mean 1[d_SR > d_SS])``, ``d_RR``/``d_SS`` leave-one-out;
  ties count half. ``privacy_loss = AA_holdout - AA_train`` (positive = leak).
* Calibrated DCR: ``tau`` = the 2nd percentile of the holdout rows' distances to their closest
  training row; ``calibrated_dcr`` = share of synthetic rows at most ``tau`` from a training
  row. A generator of fresh patients scores about 2 % (``calibrated_dcr_baseline``, the
  holdout's own share at ``tau``, more when distances tie); a copy scores 1. Unlike the DCR
  share it does not saturate at the split's ratio and separates mild from heavy memorisation.
* Membership inference: members (train sample) and non-members (holdout sample) of equal size
  are scored by ``-d(row, nearest synthetic row)``; the attack's ROC-AUC (0.5 = no leak).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from clinisynth.audit.inputs import (
    as_float,
    category_key_text,
    rng_for,
    sample_index,
    single_thread,
)
from clinisynth.audit.result import PrivacyResult
from clinisynth.distances import RecordEncoder, nearest_distances
from clinisynth.schema import TableSchema

TIE_TOL = 1e-9
CALIBRATION_QUANTILE = 0.02
DEFAULT_QUERIES = 2000
# purposes for rng_for: one independent stream each
_SYN, _TRAIN_M, _HOLD_M, _NNAA_T, _NNAA_H, _MIA, _HOLD_CAP = 10, 11, 12, 13, 14, 15, 16


def closer_share(d_train: np.ndarray, d_holdout: np.ndarray) -> float:
    """``mean(1[d_train < d_holdout] + ½·1[d_train = d_holdout])`` (ties within 1e-9)."""
    tie = np.isclose(d_train, d_holdout, rtol=0.0, atol=TIE_TOL)
    closer = (d_train < d_holdout) & ~tie
    return float(np.mean(closer + 0.5 * tie))


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1[a > b]`` with ties (within 1e-9) counted as ½."""
    tie = np.isclose(a, b, rtol=0.0, atol=TIE_TOL)
    return ((a > b) & ~tie) + 0.5 * tie


def nnaa(real: np.ndarray, syn: np.ndarray, real_q: np.ndarray | None = None,
         syn_q: np.ndarray | None = None) -> float:
    """``½ (mean 1[d_RS > d_RR] + mean 1[d_SR > d_SS])`` (ties ½), ``d_RR``/``d_SS``
    leave-one-out, over the query rows ``real_q`` ⊂ ``real`` and ``syn_q`` ⊂ ``syn``
    (default: every row)."""
    real_q = real if real_q is None else real_q
    syn_q = syn if syn_q is None else syn_q
    d_rs = nearest_distances(real_q, syn)
    d_rr = nearest_distances(real_q, real, exclude_self=True)
    d_sr = nearest_distances(syn_q, real)
    d_ss = nearest_distances(syn_q, syn, exclude_self=True)
    return float(0.5 * (np.mean(_greater(d_rs, d_rr)) + np.mean(_greater(d_sr, d_ss))))


def row_keys(df: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """One 64-bit hash per row; equal rows (every column, missing = missing) share a hash.

    Numbers are compared after rounding to 9 decimals, categories by their category key
    (:func:`clinisynth.audit.inputs.category_key_text`, vectorised).
    """
    parts = {}
    for col in schema.columns:
        if col.is_numeric:
            parts[col.name] = np.round(as_float(df[col.name]), 9)
        else:
            parts[col.name] = category_key_text(df[col.name]).to_numpy()
    frame = pd.DataFrame(parts)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def count_copies(query: np.ndarray, reference: np.ndarray) -> int:
    """Number of query rows (by :func:`row_keys`) that equal some reference row."""
    return int(np.isin(query, reference).sum())


class EncodedTables:
    """The three tables encoded once; equal-size reference samples; capped query samples."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 schema: TableSchema, seed: int, sample: int | None) -> None:
        enc = RecordEncoder(schema).fit(train)
        self.cap = max(len(train), len(holdout), len(synthetic)) if sample is None \
            else int(sample)
        self.m = min(len(train), len(holdout))
        self.train_m = sample_index(len(train), self.m, rng_for(seed, _TRAIN_M))
        self.hold_m = sample_index(len(holdout), self.m, rng_for(seed, _HOLD_M))
        self.syn_q = sample_index(len(synthetic), self.cap, rng_for(seed, _SYN))
        self.hold_q = sample_index(len(holdout), self.cap, rng_for(seed, _HOLD_CAP))
        self.x_train = enc.transform(train)
        self.x_hold = enc.transform(holdout)
        self.x_syn = enc.transform(synthetic)


def dcr_distances(e: EncodedTables) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DCR of the synthetic query rows to all of train, to the m-row train and holdout samples."""
    q = e.x_syn[e.syn_q]
    d_all = nearest_distances(q, e.x_train)
    # the m-row train sample is every train row (reordered) when holdout >= train
    d_train = d_all if e.m == len(e.x_train) else nearest_distances(q, e.x_train[e.train_m])
    d_hold = nearest_distances(q, e.x_hold[e.hold_m])
    return d_all, d_train, d_hold


def calibrated_dcr(d_syn_train: np.ndarray, d_hold_train: np.ndarray,
                   quantile: float = CALIBRATION_QUANTILE) -> tuple[float, float, float]:
    """``(share, baseline, tau)``: the share of synthetic rows whose distance to the closest
    training row is at most ``tau``, the ``quantile`` (2 %) of the holdout rows' distances to
    their closest training row; ``baseline`` is the holdout's own share at ``tau`` (≈ 2 %, more
    when distances tie at ``tau``), what a generator of fresh patients would score.
    """
    tau = float(np.quantile(d_hold_train, quantile))
    limit = tau + TIE_TOL
    return (float(np.mean(d_syn_train <= limit)), float(np.mean(d_hold_train <= limit)), tau)


def dcr_share(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
              schema: TableSchema, seed: int = 0, sample: int | None = DEFAULT_QUERIES) -> float:
    """Share of synthetic rows closer to train than to holdout, equal-sized samples (ties ½).

    0.5 = no memorisation; 1 = every synthetic row sits on a (sampled) training row.
    """
    return DcrShare(train, holdout, schema, seed, sample)(synthetic)


class DcrShare:
    """:func:`dcr_share` against one (train, holdout) pair, encoded once: ``scorer(synthetic)``
    equals ``dcr_share(train, holdout, synthetic, schema, seed, sample)`` (the same seeded
    samples), for scoring many synthetic tables against the same two (the weight search)."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, schema: TableSchema,
                 seed: int = 0, sample: int | None = DEFAULT_QUERIES) -> None:
        self.encoder = RecordEncoder(schema).fit(train)
        self.seed, self.sample = seed, sample
        self.n_train, self.n_hold = len(train), len(holdout)
        m = min(len(train), len(holdout))
        # the distances to a set do not depend on its order: all of train when m covers it
        train_m = (slice(None) if m == len(train)
                   else sample_index(len(train), m, rng_for(seed, _TRAIN_M)))
        self.x_train = self.encoder.transform(train)[train_m]
        self.x_hold = self.encoder.transform(holdout)[
            sample_index(len(holdout), m, rng_for(seed, _HOLD_M))]

    def __call__(self, synthetic: pd.DataFrame) -> float:
        cap = (max(self.n_train, self.n_hold, len(synthetic)) if self.sample is None
               else int(self.sample))
        rows = sample_index(len(synthetic), cap, rng_for(self.seed, _SYN))
        with single_thread():
            q = self.encoder.transform(synthetic.iloc[rows])
            return closer_share(nearest_distances(q, self.x_train),
                                nearest_distances(q, self.x_hold))


def _nnaa_pair(x_real: np.ndarray, x_syn: np.ndarray, e: EncodedTables, seed: int, purpose: int
               ) -> tuple[float, int]:
    """NNAA on equal-sized sets ``n = min(len(real), len(syn))`` (seeded samples of the larger),
    queried from at most ``cap`` rows of each."""
    n = min(len(x_real), len(x_syn))
    rng = rng_for(seed, purpose)
    real = x_real[sample_index(len(x_real), n, rng)]
    syn = x_syn[sample_index(len(x_syn), n, rng)]
    q = sample_index(n, e.cap, rng)
    return nnaa(real, syn, real[q], syn[q]), n


def mia_auc(x_members: np.ndarray, x_non_members: np.ndarray, x_syn: np.ndarray) -> float:
    """AUC of the score ``-d(row, nearest synthetic row)`` for members vs non-members."""
    scores = -np.r_[nearest_distances(x_members, x_syn), nearest_distances(x_non_members, x_syn)]
    labels = np.r_[np.ones(len(x_members)), np.zeros(len(x_non_members))]
    return float(roc_auc_score(labels, scores))


def privacy_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                   schema: TableSchema, seed: int = 0, sample: int | None = DEFAULT_QUERIES
                   ) -> PrivacyResult:
    """Every privacy score of ``synthetic`` against ``train`` with ``holdout`` as the baseline.

    ``sample`` caps the query rows per set (seeded); references are always whole tables (or
    equal-size samples), so a memorised table is flagged whatever its size. ``None``: no cap.
    """
    with single_thread():
        return _privacy(train, holdout, synthetic, schema, seed, sample)


def _privacy(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
             schema: TableSchema, seed: int, sample: int | None) -> PrivacyResult:
    e = EncodedTables(train, holdout, synthetic, schema, seed, sample)
    d_all, d_train, d_hold = dcr_distances(e)
    share, baseline, tau = calibrated_dcr(d_all,
                                          nearest_distances(e.x_hold[e.hold_q], e.x_train))
    keys_syn = row_keys(synthetic, schema)
    keys_train = row_keys(train, schema)
    keys_hold = row_keys(holdout, schema)
    aa_train, n_t = _nnaa_pair(e.x_train, e.x_syn, e, seed, _NNAA_T)
    aa_hold, n_h = _nnaa_pair(e.x_hold, e.x_syn, e, seed, _NNAA_H)
    members = sample_index(e.m, e.cap, rng_for(seed, _MIA))
    return PrivacyResult(
        dcr_median=float(np.median(d_all)),
        dcr_holdout_median=float(np.median(d_hold)),
        dcr_share=closer_share(d_train, d_hold),
        exact_copies=count_copies(keys_syn, keys_train[e.train_m]),
        holdout_exact_copies=count_copies(keys_syn, keys_hold[e.hold_m]),
        exact_copies_all_train=count_copies(keys_syn, keys_train),
        nnaa_train=aa_train, nnaa_holdout=aa_hold, privacy_loss=aa_hold - aa_train,
        mia_auc=mia_auc(e.x_train[e.train_m[members]], e.x_hold[e.hold_m[members]], e.x_syn),
        calibrated_dcr=share, calibrated_dcr_baseline=baseline, calibrated_dcr_tau=tau,
        sizes={"synthetic": len(e.syn_q), "train": len(train), "equal_samples": e.m,
               "nnaa_train": n_t, "nnaa_holdout": n_h, "train_rows": len(train),
               "holdout": len(e.hold_q), "query_cap": e.cap},
        dcr_train=d_train, dcr_holdout=d_hold,
    )
