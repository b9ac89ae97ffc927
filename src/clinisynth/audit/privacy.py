"""Privacy: does the synthetic table sit closer to the training patients than to unseen ones?

All distances are Euclidean in the standardised mixed-type encoding shared with the guard
(:class:`clinisynth.distances.RecordEncoder`, fitted on train; every column, target included).
Large tables are subsampled (seeded) to at most ``sample`` rows per set.

* DCR: distance from each synthetic row to its closest record. ``dcr_median`` is the median
  distance to train. ``dcr_share`` compares, for each synthetic row, its DCR to a train sample
  and to a holdout sample of the same size ``m = min(|train|, |holdout|)``:
  ``share = mean(1[d_train < d_holdout] + ½·1[d_train = d_holdout])``; 0.5 = no memorisation.
  With unequal splits a fully memorised table scores ``0.5 + 0.5·m/|train|`` (only copies of
  sampled train rows can show); a 50/50 split shows it as 1.
* Exact copies: synthetic rows equal in every column to a row of the ``m``-row train sample,
  and the same count against the ``m``-row holdout sample as the baseline (discrete tables
  have many patients sharing a row, so copies only mean something above that baseline).
* NNAA (Yale et al. 2020), per pair of equal-sized samples of real R and synthetic S:
  ``AA = ½ (mean 1[d_RS > d_RR] + mean 1[d_SR > d_SS])``, ``d_RR``/``d_SS`` leave-one-out;
  ties count half. ``privacy_loss = AA_holdout - AA_train`` (positive = leak).
* Membership inference: members (train sample) and non-members (holdout sample) of equal size
  ``m`` are scored by ``-d(row, nearest synthetic row)``; the attack's ROC-AUC (0.5 = no leak).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from clinisynth.audit.inputs import as_float, rng_for, sample_index, single_thread
from clinisynth.audit.result import PrivacyResult
from clinisynth.distances import RecordEncoder, nearest_distances
from clinisynth.schema import TableSchema, category_key

TIE_TOL = 1e-9
# purposes for rng_for: one independent stream each
_SYN, _TRAIN_M, _HOLD_M, _NNAA_T, _NNAA_H, _TRAIN_CAP, _HOLD_CAP = 10, 11, 12, 13, 14, 15, 16


def closer_share(d_train: np.ndarray, d_holdout: np.ndarray) -> float:
    """``mean(1[d_train < d_holdout] + ½·1[d_train = d_holdout])`` (ties within 1e-9)."""
    tie = np.isclose(d_train, d_holdout, rtol=0.0, atol=TIE_TOL)
    closer = (d_train < d_holdout) & ~tie
    return float(np.mean(closer + 0.5 * tie))


def _greater(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``1[a > b]`` with ties (within 1e-9) counted as ½."""
    tie = np.isclose(a, b, rtol=0.0, atol=TIE_TOL)
    return ((a > b) & ~tie) + 0.5 * tie


def nnaa(real_x: np.ndarray, syn_x: np.ndarray) -> float:
    """Adversarial accuracy ``½ (mean 1[d_RS > d_RR] + mean 1[d_SR > d_SS])`` (ties ½)."""
    d_rs = nearest_distances(real_x, syn_x)
    d_rr = nearest_distances(real_x, real_x, exclude_self=True)
    d_sr = nearest_distances(syn_x, real_x)
    d_ss = nearest_distances(syn_x, syn_x, exclude_self=True)
    return float(0.5 * (np.mean(_greater(d_rs, d_rr)) + np.mean(_greater(d_sr, d_ss))))


def row_keys(df: pd.DataFrame, schema: TableSchema) -> np.ndarray:
    """One 64-bit hash per row; equal rows (every column, missing = missing) share a hash.

    Numbers are compared after rounding to 9 decimals, categories by their category key.
    """
    parts = {}
    for col in schema.columns:
        if col.is_numeric:
            parts[col.name] = np.round(as_float(df[col.name]), 9)
        else:
            parts[col.name] = ["<NA>" if pd.isna(v) else repr(category_key(v))
                               for v in df[col.name]]
    frame = pd.DataFrame(parts)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def count_copies(query: np.ndarray, reference: np.ndarray) -> int:
    """Number of query rows (by :func:`row_keys`) that equal some reference row."""
    return int(np.isin(query, reference).sum())


class _Encoded:
    """The three tables encoded once, with their seeded samples."""

    def __init__(self, train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                 schema: TableSchema, seed: int, sample: int) -> None:
        enc = RecordEncoder(schema).fit(train)
        self.m = min(len(train), len(holdout), sample)
        self.syn_idx = sample_index(len(synthetic), sample, rng_for(seed, _SYN))
        self.train_idx = sample_index(len(train), sample, rng_for(seed, _TRAIN_CAP))
        self.train_m = sample_index(len(train), self.m, rng_for(seed, _TRAIN_M))
        self.hold_m = sample_index(len(holdout), self.m, rng_for(seed, _HOLD_M))
        self.train, self.holdout, self.synthetic = train, holdout, synthetic
        self.x_train = enc.transform(train)
        self.x_hold = enc.transform(holdout)
        self.x_syn = enc.transform(synthetic.iloc[self.syn_idx])


def _dcr(e: _Encoded) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """DCR to the (capped) train set, to the m-row train sample, to the m-row holdout sample."""
    d_all = nearest_distances(e.x_syn, e.x_train[e.train_idx])
    d_train = nearest_distances(e.x_syn, e.x_train[e.train_m])
    d_hold = nearest_distances(e.x_syn, e.x_hold[e.hold_m])
    return d_all, d_train, d_hold


def dcr_share(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
              schema: TableSchema, seed: int = 0, sample: int = 2000) -> float:
    """Share of synthetic rows closer to train than to holdout, equal-sized samples (ties ½).

    0.5 = no memorisation; 1 = every synthetic row sits on a (sampled) training row.
    """
    with single_thread():
        e = _Encoded(train, holdout, synthetic, schema, seed, sample)
        _, d_train, d_hold = _dcr(e)
    return closer_share(d_train, d_hold)


def _nnaa_pair(x_real: np.ndarray, x_syn: np.ndarray, seed: int, purpose: int
               ) -> tuple[float, int]:
    """NNAA on equal-sized samples ``n = min(len(real), len(syn))`` of the two sets."""
    n = min(len(x_real), len(x_syn))
    rng = rng_for(seed, purpose)
    return nnaa(x_real[sample_index(len(x_real), n, rng)],
                x_syn[sample_index(len(x_syn), n, rng)]), n


def mia_auc(x_members: np.ndarray, x_non_members: np.ndarray, x_syn: np.ndarray) -> float:
    """AUC of the score ``-d(row, nearest synthetic row)`` for members vs non-members."""
    scores = -np.r_[nearest_distances(x_members, x_syn), nearest_distances(x_non_members, x_syn)]
    labels = np.r_[np.ones(len(x_members)), np.zeros(len(x_non_members))]
    return float(roc_auc_score(labels, scores))


def privacy_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
            schema: TableSchema, seed: int = 0, sample: int = 2000) -> PrivacyResult:
    """Every privacy score of ``synthetic`` against ``train`` with ``holdout`` as the baseline."""
    with single_thread():
        return _privacy(train, holdout, synthetic, schema, seed, sample)


def _privacy(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
             schema: TableSchema, seed: int, sample: int) -> PrivacyResult:
    e = _Encoded(train, holdout, synthetic, schema, seed, sample)
    d_all, d_train, d_hold = _dcr(e)
    keys_syn = row_keys(synthetic.iloc[e.syn_idx], schema)
    keys_train = row_keys(train, schema)
    keys_hold = row_keys(holdout, schema)
    x_train_cap = e.x_train[e.train_idx]
    aa_train, n_t = _nnaa_pair(x_train_cap, e.x_syn, seed, _NNAA_T)
    x_hold_cap = e.x_hold[sample_index(len(e.x_hold), sample, rng_for(seed, _HOLD_CAP))]
    aa_hold, n_h = _nnaa_pair(x_hold_cap, e.x_syn, seed, _NNAA_H)
    return PrivacyResult(
        dcr_median=float(np.median(d_all)),
        dcr_holdout_median=float(np.median(d_hold)),
        dcr_share=closer_share(d_train, d_hold),
        exact_copies=count_copies(keys_syn, keys_train[e.train_m]),
        holdout_exact_copies=count_copies(keys_syn, keys_hold[e.hold_m]),
        exact_copies_all_train=count_copies(keys_syn, keys_train[e.train_idx]),
        nnaa_train=aa_train, nnaa_holdout=aa_hold, privacy_loss=aa_hold - aa_train,
        mia_auc=mia_auc(e.x_train[e.train_m], e.x_hold[e.hold_m], e.x_syn),
        sizes={"synthetic": len(e.syn_idx), "train": len(e.train_idx), "equal_samples": e.m,
               "nnaa_train": n_t, "nnaa_holdout": n_h, "train_rows": len(train)},
        dcr_train=d_train, dcr_holdout=d_hold,
    )
