"""A child table's rows, drawn in order: an autoregression in Gaussian-copula space.

Each numeric value column ``x`` (and the gap between consecutive orders, or an interval's
length) is mapped to normal scores, ``z = Φ⁻¹(F̂(x))`` with ``F̂`` the training values'
mid-rank CDF (per level of a category that explains at least half of the column's variance:
a long table's ``test`` for its ``value``). Row ``t`` of a patient is drawn given

    h_t = [z_{t-1}, (z_{t-1} - 1)₊, (z_{t-1} + 1)₋, missing_{t-1}, one-hot categories_{t-1},
           parent row, position, pace, z_gap_t, time since the first row]

(nothing from a previous row on the first; the gap is drawn first, from a ridge on the rest).
Sampling takes the first row whole from the hybrid (drawn with the parent, missing cells
included) and draws the later ones. Categorical columns (text, or five values or fewer) are
drawn from a multinomial logistic regression on ``h_t``; then numeric scores follow one
linear-Gaussian model given ``h_t`` and the row's own categories ``c_t``:
``z_t = W [h_t, c_t] + ε``, ``ε ~ N(0, Σ)`` (ridge per column on the rows where it is recorded;
``Σ`` the pairwise covariance of the residuals, made positive semi-definite), so each column's
lag-1 autocorrelation, its cross-lag dependence on the others, its dependence on the parent and
the residual correlation between columns are kept, and the hinges let an extreme value revert
faster than a middling one (a protime spike at one visit is gone at the next, so its Pearson
lag-1 is far below its rank lag-1); each numeric column's missingness is a logistic regression
on ``[h_t, c_t]``. Scores map back through the training quantiles, each draw spread over the
values ``k // 2`` ranks either side and written at the column's recorded step or mix of steps
(so an integer column stays integer, and where values are sparse a drawn value falls between
patients' values rather than on one), clipped to the values ``k`` patients span at each end
(value protection: no value beyond the ``k``-th smallest or largest is drawn or stored).

Why not a recurrent network: clinical follow-up tables hold hundreds of patients and a few
thousand rows (pbcseq: 312 and 1,945). A GRU has thousands of weights per lab there and learns
the mean trajectory, the failure users report for SDV's PAR; the linear model has a handful of
weights per lab, fits in closed form at 500,000 rows, and keeps exactly the lag-1 structure the
audit measures. Its limit: the dynamics are linear in the normal scores and their hinges at ±1.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.linear_model import LogisticRegression, Ridge

from clinisynth.rules.mixed_precision import learn_mix, round_mixed
from clinisynth.rules.precision import learn_step, round_to
from clinisynth.values import to_native

MISSING = "__missing__"
LOW_CARDINALITY = 5
#: hinges of a previous score beyond ±1: the next value may revert from an extreme faster than
#: from the middle (a transient spike), which a term linear in ``z_{t-1}`` cannot say
TAILS = (lambda z: np.maximum(z - 1.0, 0.0), lambda z: np.minimum(z + 1.0, 0.0))


def _log_scale(values: np.ndarray | None) -> tuple[float, float]:
    """Mean and sd of ``log(values)`` over the finite ones (0 and 1 when there are none)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.log(values) if values is not None else np.zeros(0)
    logs = logs[np.isfinite(logs)]
    sd = float(logs.std()) if len(logs) else 0.0
    return (float(logs.mean()) if len(logs) else 0.0, sd if sd > 0 else 1.0)


@dataclass
class Quantiles:
    """``x ↔ z`` through a column's training values (ends clipped to the ``k``-th values)."""

    values: np.ndarray
    lo: float
    hi: float
    step: float = 0.0  # the recorded step draws are rounded to (0: none)
    mix: dict[str, Any] | None = None  # several recorded steps and their shares
    k: int = 5  # draws spread over the span of about k neighbouring training values

    @classmethod
    def fit(cls, x: np.ndarray, k: int) -> Quantiles:
        v = np.sort(x[np.isfinite(x)])
        kk = min(k, max(1, len(v) // 2))
        lo, hi = float(v[kk - 1]), float(v[-kk])
        step = learn_step(v)
        mix = learn_mix(v, step, np.full(len(v), -1)) if step > 0 else None
        return cls(np.clip(v, lo, hi), lo, hi, step, mix, k)  # no value beyond the k-th stored

    def to_z(self, x: np.ndarray) -> np.ndarray:
        n = len(self.values)
        lo = np.searchsorted(self.values, x, side="left")
        hi = np.searchsorted(self.values, x, side="right")
        u = np.clip((lo + hi) / 2.0 / n, 0.5 / n, 1 - 0.5 / n)
        return np.where(np.isfinite(x), norm.ppf(u), 0.0)

    def to_x(self, z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """The training value at rank ``Φ(z)·n``, spread uniformly over the span of the values
        ``k // 2`` ranks either side of it, then written at the recorded step (or mix of steps:
        half of a lab recorded in whole units, half to one decimal, stays so). Where values are
        sparse (the tails, a rare interval length) a draw lands between patients' values, not
        on one of them, so a child row is about as often identical to a training row as an
        unseen patient's is; where many patients share a value (a 365-day visit) it stays
        that value. Ranks move by at most ``k // 2``, so each column's marginal is kept."""
        v = self.values
        at = np.clip(np.rint(norm.cdf(z) * len(v) - 0.5).astype(int), 0, len(v) - 1)
        half = max(self.k // 2, 1)
        low, high = v[np.maximum(at - half, 0)], v[np.minimum(at + half, len(v) - 1)]
        x = low + rng.random(len(at)) * (high - low)
        if self.mix is not None:
            x = round_mixed(x, self.mix, np.full(len(x), -1), rng, self.lo, self.hi)
        elif self.step > 0:
            x = round_to(x, self.step)
        return np.clip(x, self.lo, self.hi)


@dataclass
class ChildModel:
    """Fitted dynamics of one child table (module doc)."""

    numeric: list[str]
    categorical: list[str]
    k: int = 5
    quantiles: dict[str, Quantiles] = field(default_factory=dict)
    levels: dict[str, list] = field(default_factory=dict)
    has_gap: bool = False
    by: dict[str, str] = field(default_factory=dict)
    hinges: bool = True  # False in models saved before the hinges (their weights lack them)

    # ---- features ---------------------------------------------------------------------
    def _state(self, frame: pd.DataFrame) -> np.ndarray:
        """``[z, hinges of z, missing, one-hot]`` of each row (the part of ``h`` a row passes
        on)."""
        codes = {g: self._codes(frame[g]) for g in set(self.by.values())}
        parts = [self._z(c, frame[c].to_numpy(dtype=float), codes) for c in self.numeric]
        parts += [f(z) for z in parts[:len(self.numeric)] for f in self._tails()]
        parts += [frame[c].isna().to_numpy(dtype=float) for c in self.numeric]
        for c in self.categorical:
            codes = self._codes(frame[c])
            parts += [(codes == j).astype(float) for j in range(len(self.levels[c]))]
        return np.column_stack(parts) if parts else np.zeros((len(frame), 0))

    def _z(self, column: str, x: np.ndarray, codes: dict[str, np.ndarray]) -> np.ndarray:
        """Normal scores of ``x``, through its category's own quantiles where the column's
        distribution depends on a category (``by``), else through the column's."""
        out = self.quantiles[column].to_z(x)
        for j, rows in self._groups(column, codes):
            out[rows] = self.quantiles[f"{column}|{j}"].to_z(x[rows])
        return out

    def _x(self, column: str, z: np.ndarray, codes: dict[str, np.ndarray],
           rng: np.random.Generator) -> np.ndarray:
        out = self.quantiles[column].to_x(z, rng)
        for j, rows in self._groups(column, codes):
            out[rows] = self.quantiles[f"{column}|{j}"].to_x(z[rows], rng)
        return out

    def _groups(self, column: str, codes: dict[str, np.ndarray]
                ) -> Iterator[tuple[int, np.ndarray]]:
        g = self.by.get(column)
        if g is None:
            return
        for j in range(len(self.levels[g])):
            if f"{column}|{j}" in self.quantiles:
                yield j, codes[g] == j

    def _fit_by(self, child: pd.DataFrame) -> None:
        """For each numeric column, the category that explains at least half its variance
        (``η² = 1 - within / total``), if any: a long table's ``test`` for its ``value``.
        Each of that category's levels with at least ``2k`` values gets its own quantiles."""
        codes = {g: self._codes(child[g]) for g in self.categorical}
        for c in self.numeric:
            x = child[c].to_numpy(dtype=float)
            ok = np.isfinite(x)
            total = x[ok].var() if ok.sum() > 1 else 0.0
            best, share = None, 0.5
            for g, code in codes.items():
                if total <= 0:
                    break
                frame = pd.DataFrame({"x": x[ok], "g": code[ok]})
                within = (frame.groupby("g")["x"].transform("mean") - frame["x"]).pow(2).mean()
                if 1 - within / total >= share:
                    best, share = g, 1 - within / total
            if best is None:
                continue
            self.by[c] = best
            for j in range(len(self.levels[best])):
                rows = ok & (codes[best] == j)
                if rows.sum() >= 2 * self.k:
                    self.quantiles[f"{c}|{j}"] = Quantiles.fit(x[rows], self.k)

    def _codes(self, values: pd.Series) -> np.ndarray:
        keys = values.astype(object).where(values.notna(), MISSING)
        index = {v: i for i, v in enumerate(self.levels[values.name])}
        return keys.map(lambda v: index.get(v, 0)).to_numpy(dtype=int)

    def _position(self, t: np.ndarray, n: np.ndarray, pace: np.ndarray | None) -> np.ndarray:
        """Where the row sits (``t / n``, last, first, second, third) and the patient's pace,
        the mean gap ``(last - first) / m`` the plan fixes (log, standardised; 0 where
        undefined)."""
        if pace is None or not self.has_gap:
            z = np.zeros(len(t))
        else:
            with np.errstate(divide="ignore", invalid="ignore"):
                z = (np.log(pace) - self.pace_[0]) / self.pace_[1]
            z = np.where(np.isfinite(z), z, 0.0)
        return np.column_stack([t / n, (t == n).astype(float), (t == 1).astype(float),
                                (t == 2).astype(float), (t == 3).astype(float), z])

    # ---- fit --------------------------------------------------------------------------
    def fit(self, child: pd.DataFrame, groups: np.ndarray, parent_x: np.ndarray,
            gaps: np.ndarray | None, pace: np.ndarray | None = None,
            elapsed: np.ndarray | None = None) -> ChildModel:
        """``child`` sorted by patient and order; ``parent_x[i]`` the features of row i's
        patient; ``gaps[i]`` the gap before row i (NaN on a sequence's first row), or row i's
        length for intervals; ``pace[i]`` the patient's mean gap; ``elapsed[i]`` row i's
        order minus the patient's first."""
        patients = pd.Series(groups)
        for c in self.categorical:
            keys = child[c].astype(object).where(child[c].notna(), MISSING).to_numpy()
            held = pd.DataFrame({"p": groups, "v": keys}).drop_duplicates()["v"].value_counts()
            kept = [v for v, count in held.items() if count >= self.k]
            self.levels[c] = kept or [held.index[0]]
        for c in self.numeric:
            self.quantiles[c] = Quantiles.fit(child[c].to_numpy(dtype=float), self.k)
        self._fit_by(child)
        self.has_gap = gaps is not None
        t = patients.groupby(patients).cumcount().to_numpy() + 1
        n = patients.map(patients.value_counts()).to_numpy()
        if gaps is not None:
            self.quantiles["__gap__"] = Quantiles.fit(gaps, self.k)
            self.pace_ = _log_scale(pace)
            self.elapsed_ = _log_scale(1.0 + elapsed)
            later = elapsed[t > 1]
            self.edges_ = (np.unique(np.quantile(later, np.linspace(0.1, 0.9, 9)))
                           if len(later) else np.zeros(0))
        state = self._state(child)
        prev = np.vstack([np.zeros((1, state.shape[1])), state[:-1]])
        prev[t == 1] = 0.0
        h = np.column_stack([prev, parent_x, self._position(t, n, pace)])
        if gaps is not None:
            z_gap = self.quantiles["__gap__"].to_z(gaps)
            ok = np.isfinite(gaps)
            reg = Ridge(alpha=1.0).fit(h[ok], z_gap[ok])
            self.gap_ = (reg.coef_, float(reg.intercept_),
                         float(np.std(z_gap[ok] - reg.predict(h[ok]))))
            h = np.column_stack([h, z_gap, self._elapsed(elapsed)])
        codes = {c: self._codes(child[c]) for c in self.categorical}
        targets = {c: self._z(c, child[c].to_numpy(dtype=float), codes) for c in self.numeric}
        masks = {c: child[c].notna().to_numpy() for c in self.numeric}
        h_values = np.column_stack([h, self._current(codes, len(h))])
        self._fit_gaussian(h_values, targets, masks)
        self._fit_logistic(h, h_values, child, codes)
        return self

    def _current(self, codes: dict[str, np.ndarray], rows: int) -> np.ndarray:
        """The row's own categories, one-hot: numeric values and their missingness are drawn
        given them (in a long table, a value's distribution depends on its test)."""
        parts = [(codes[c] == j).astype(float) for c in self.categorical
                 for j in range(len(self.levels[c]))]
        return np.column_stack(parts) if parts else np.zeros((rows, 0))

    def _elapsed(self, elapsed: np.ndarray) -> np.ndarray:
        """Time since the first row: its log (standardised) and its decile among the training
        rows (one-hot), so a schedule (a lab never taken at the 6-month visit) is learnable."""
        with np.errstate(divide="ignore", invalid="ignore"):
            z = (np.log(1.0 + elapsed) - self.elapsed_[0]) / self.elapsed_[1]
        z = np.where(np.isfinite(z), z, 0.0)
        bins = np.searchsorted(self.edges_, elapsed, side="right")
        return np.column_stack([z] + [(bins == b).astype(float)
                                      for b in range(len(self.edges_) + 1)])

    def _fit_gaussian(self, h: np.ndarray, targets: dict[str, np.ndarray],
                      masks: dict[str, np.ndarray]) -> None:
        self.names_ = list(targets)
        self.coef_ = np.zeros((len(targets), h.shape[1]))
        self.intercept_ = np.zeros(len(targets))
        residuals = np.full((len(h), len(targets)), np.nan)
        for j, name in enumerate(self.names_):
            m = masks[name]
            if m.sum() < 3:
                continue
            reg = Ridge(alpha=1.0).fit(h[m], targets[name][m])
            self.coef_[j], self.intercept_[j] = reg.coef_, reg.intercept_
            residuals[m, j] = targets[name][m] - reg.predict(h[m])
        cov = pd.DataFrame(residuals).cov(min_periods=3).fillna(0.0).to_numpy()
        vals, vecs = np.linalg.eigh((cov + cov.T) / 2)
        self.chol_ = vecs * np.sqrt(np.clip(vals, 0.0, None))

    def _fit_logistic(self, h: np.ndarray, h_values: np.ndarray, child: pd.DataFrame,
                      codes: dict[str, np.ndarray]) -> None:
        """Categories given ``h``; each numeric column's missingness given ``h`` and the
        row's categories."""
        self.classifiers_: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        labels = [(c, codes[c], h) for c in self.categorical]
        labels += [(f"__missing__{c}", child[c].isna().to_numpy(dtype=int), h_values)
                   for c in self.numeric if child[c].isna().any()]
        for name, y, x in labels:
            classes = np.unique(y)
            if len(classes) == 1:
                self.classifiers_[name] = (classes, np.zeros((1, x.shape[1])), np.zeros(1))
                continue
            clf = LogisticRegression(C=1.0, max_iter=300).fit(x, y)
            self.classifiers_[name] = (clf.classes_, clf.coef_, clf.intercept_)

    # ---- sample -----------------------------------------------------------------------
    def _draw_class(self, name: str, h: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        classes, coef, intercept = self.classifiers_[name]
        if len(classes) == 1:
            return np.full(len(h), classes[0])
        scores = h @ coef.T + intercept
        if len(classes) == 2:
            p1 = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            return np.where(rng.random(len(h)) < p1, classes[1], classes[0])
        scores -= scores.max(axis=1, keepdims=True)
        p = np.exp(scores)
        p /= p.sum(axis=1, keepdims=True)
        u = rng.random((len(h), 1))
        return classes[np.minimum((p.cumsum(axis=1) < u).sum(axis=1), len(classes) - 1)]

    def sample(self, first: pd.DataFrame, n: np.ndarray, parent_x: np.ndarray,
               rng: np.random.Generator, pace: np.ndarray | None = None,
               sequence: bool = True) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
        """Rows for every patient ``i`` with ``n[i] > 0``: the first row is ``first.iloc[i]``
        (the hybrid's draw), missing cells included; returns the rows in patient order, each row's
        patient index, and each row's drawn gap (NaN where the model has none).

        Per step ``t`` the gap is drawn first (``sequence``: none on the first row; intervals:
        row ``t``'s length), then the values given the gap and the time since the first row."""
        total = int(n.sum())
        owner = np.repeat(np.arange(len(n)), n)
        t_all = np.concatenate([np.arange(1, k + 1) for k in n]) if total else np.zeros(0, int)
        out = {c: np.full(total, np.nan) for c in self.numeric}
        out.update({c: np.empty(total, dtype=object) for c in self.categorical})
        gaps = np.full(total, np.nan)
        prev, elapsed, last_gap = None, np.zeros(len(n)), np.zeros(len(n))
        for t in range(1, int(n.max(initial=0)) + 1):
            active = np.flatnonzero(n >= t)
            rows = np.flatnonzero(t_all == t)
            if t == 1:
                prev_state = np.zeros((len(active), self._width()))
            else:
                prev_state = prev[np.isin(np.flatnonzero(n >= t - 1), active)]
            h = np.column_stack([prev_state, parent_x[active],
                                 self._position(np.full(len(active), t), n[active],
                                                None if pace is None else pace[active])])
            if self.has_gap:
                coef, intercept, sd = self.gap_
                z_gap = h @ coef + intercept + sd * rng.standard_normal(len(active))
                gap = self.quantiles["__gap__"].to_x(z_gap, rng)
                if sequence:
                    if t == 1:
                        z_gap, gap = np.zeros(len(active)), np.full(len(active), np.nan)
                    else:
                        elapsed[active] += gap
                elif t > 1:
                    elapsed[active] += last_gap[active]
                last_gap[active] = np.nan_to_num(gap)
                gaps[rows] = gap
                h = np.column_stack([h, z_gap, self._elapsed(elapsed[active])])
            frame = self._first_row(first, active) if t == 1 else self._draw_row(h, rng)
            for c, v in frame.items():
                out[c][rows] = v
            prev = self._state(pd.DataFrame(frame, columns=self.numeric + self.categorical))
        return pd.DataFrame(out, columns=self.numeric + self.categorical), owner, gaps

    def _first_row(self, first: pd.DataFrame, active: np.ndarray) -> dict[str, np.ndarray]:
        """The first row of patients ``active``: the hybrid's, drawn with the parent, missing
        cells included (a lab not taken at the first visit is as often missing there as in
        the real rows)."""
        given = first.iloc[active]
        out = {c: pd.to_numeric(given[c], errors="coerce").to_numpy(dtype=float)
               for c in self.numeric}
        out.update({c: given[c].astype(object).where(given[c].notna(), None).to_numpy()
                    for c in self.categorical})
        return {c: out[c] for c in self.numeric + self.categorical}

    def _draw_row(self, h: np.ndarray, rng: np.random.Generator) -> dict[str, np.ndarray]:
        """A later row's categories, then its numeric values and their missingness given
        them."""
        frame: dict[str, np.ndarray] = {}
        codes = {}
        for c in self.categorical:
            codes[c] = self._draw_class(c, h, rng)
            values = np.array([self.levels[c][i] for i in codes[c]], dtype=object)
            frame[c] = np.where(values == MISSING, None, values)
        h_values = np.column_stack([h, self._current(codes, len(h))])
        eps = rng.standard_normal((len(h), self.chol_.shape[1])) @ self.chol_.T
        z = h_values @ self.coef_.T + self.intercept_ + eps
        for j, name in enumerate(self.names_):
            x = self._x(name, z[:, j], codes, rng)
            if f"__missing__{name}" in self.classifiers_:
                gone = self._draw_class(f"__missing__{name}", h_values, rng) == 1
                x = np.where(gone, np.nan, x)
            frame[name] = x
        return {c: frame[c] for c in self.numeric + self.categorical}

    # ---- state ------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
        """JSON-ready settings and named arrays (no pickle)."""
        content: dict[str, Any] = {
            "numeric": self.numeric, "categorical": self.categorical, "k": self.k,
            "has_gap": self.has_gap, "names": self.names_, "hinges": self.hinges,
            "levels": {c: [to_native(v) for v in vs] for c, vs in self.levels.items()},
            "quantiles": [[c, q.lo, q.hi, q.step, q.mix] for c, q in self.quantiles.items()],
            "classifiers": list(self.classifiers_), "by": self.by}
        arrays = {"coef": self.coef_, "intercept": self.intercept_, "chol": self.chol_}
        arrays.update({f"q{i}": q.values for i, q in enumerate(self.quantiles.values())})
        for i, (classes, coef, intercept) in enumerate(self.classifiers_.values()):
            arrays.update({f"clf{i}.classes": classes, f"clf{i}.coef": coef,
                           f"clf{i}.intercept": intercept})
        if self.has_gap:
            content.update(pace=list(self.pace_), elapsed=list(self.elapsed_),
                           gap=[self.gap_[1], self.gap_[2]])
            arrays.update({"edges": self.edges_, "gap_coef": self.gap_[0]})
        return content, arrays

    @classmethod
    def from_state(cls, content: Mapping[str, Any], arrays: Mapping[str, np.ndarray]
                   ) -> ChildModel:
        model = cls(list(content["numeric"]), list(content["categorical"]), int(content["k"]))
        model.has_gap = bool(content["has_gap"])
        model.hinges = bool(content.get("hinges", False))
        model.by = dict(content.get("by", {}))
        model.names_ = list(content["names"])
        model.levels = {c: list(vs) for c, vs in content["levels"].items()}
        model.quantiles = {c: Quantiles(np.asarray(arrays[f"q{i}"], dtype=float), lo, hi,
                                        *rest[:2], k=model.k)
                           for i, (c, lo, hi, *rest) in enumerate(content["quantiles"])}
        model.coef_, model.intercept_ = arrays["coef"], arrays["intercept"]
        model.chol_ = arrays["chol"]
        model.classifiers_ = {name: (arrays[f"clf{i}.classes"], arrays[f"clf{i}.coef"],
                                     arrays[f"clf{i}.intercept"])
                              for i, name in enumerate(content["classifiers"])}
        if model.has_gap:
            model.pace_, model.elapsed_ = tuple(content["pace"]), tuple(content["elapsed"])
            model.edges_ = arrays["edges"]
            model.gap_ = (arrays["gap_coef"], *content["gap"])
        return model

    def _width(self) -> int:
        levels = sum(len(self.levels[c]) for c in self.categorical)
        return (2 + len(self._tails())) * len(self.numeric) + levels

    def _tails(self) -> tuple:
        return TAILS if self.hinges else ()
