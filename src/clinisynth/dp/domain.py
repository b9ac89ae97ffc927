"""The DP table domain: each column's codes, learned through the privacy ledger.

* **numeric** (continuous, integer, dates as days): bounds are the schema's declared public
  range (``public_min`` / ``public_max``: free) or DP bounds (:func:`dp_bounds`: a noisy
  histogram on a fixed signed log grid, charged); values are clipped to them. A noisy
  histogram of equal-width fine bins (charged; how many is chosen by the caller from public or
  already charged figures, see :func:`fine_bins`) gives the coarse bins (equal noisy mass,
  post-processing) and, inside each coarse bin, where the values lie.
* **discrete**: the schema's ``public_categories`` (free), else the values whose noisy count
  clears a threshold (:meth:`~clinisynth.dp.ledger.PrivacyLedger.thresholded_counts`: a value
  one patient holds is kept with probability at most ``δ_c``); other values share one code,
  written out as :data:`OTHER`.
* a column the schema says has gaps has one more code for a missing cell.

Column names, kinds and dtypes (the schema) are public metadata: the DP guarantee covers the
values, not the schema a user declares or accepts.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from scipy.stats import norm

from clinisynth.dp.ledger import PrivacyLedger
from clinisynth.dp.sensitive import Sensitive
from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema
from clinisynth.values import category_codes, category_keys

#: equal-width fine bins of the noisy histogram inside a numeric column's bounds: this many per
#: coarse bin, within bounds
FINE_PER_BIN, MIN_FINE_BINS, MAX_FINE_BINS = 8, 32, 128
#: expected number of empty cells of the bounds histogram whose noise clears its threshold
FALSE_CELLS = 0.01
#: the quantiles a DP bound is taken at
LOW_Q, HIGH_Q = 0.02, 0.98
#: the code of a discrete value that is not kept, as written out
OTHER = "_RARE_"


def grid() -> np.ndarray:
    """Edges of the bounds histogram, fixed before any data is read: 0 and ``±10^(k/4)``
    from 1e-4 to 1e8 (four cells a decade), signed."""
    pos = 10.0 ** (np.arange(-16, 33) / 4.0)
    return np.concatenate([-pos[::-1], [0.0], pos])


def dp_bounds(col: ColumnSchema, data: Sensitive, ledger: PrivacyLedger, sigma: float,
              step: str) -> tuple[float, float]:
    """Bounds from one noisy histogram on :func:`grid` (as smartnoise's ``approx_bounds``):
    cells whose noisy count clears ``σ·Φ⁻¹(1 - FALSE_CELLS/m)`` (``m`` cells: an empty cell
    passes with probability ``FALSE_CELLS/m``) are believed, the bounds are the :data:`LOW_Q` and
    :data:`HIGH_Q` quantiles of their counts (the cell of the largest count when none does).
    Post-processing of one Gaussian measurement."""
    edges = grid()

    def histogram(frame: pd.DataFrame) -> np.ndarray:
        x = pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float)
        x = np.clip(x[np.isfinite(x)], edges[0], edges[-1])
        cells = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, len(edges) - 2)
        return np.bincount(cells, minlength=len(edges) - 1)

    noisy = ledger.gaussian_counts(data, histogram, sigma, step,
                                   f"the magnitude histogram of '{col.name}' (bounds)")
    tau = sigma * float(norm.ppf(1.0 - FALSE_CELLS / len(noisy)))
    kept = np.where(noisy > tau, noisy, 0.0)
    if kept.sum() <= 0:
        i = int(np.argmax(noisy))
        return float(edges[i]), float(edges[i + 1])
    cum = np.cumsum(kept) / kept.sum()
    first = int(np.searchsorted(cum, LOW_Q))
    last = int(np.searchsorted(cum, HIGH_Q))
    return float(edges[first]), float(edges[min(last + 1, len(edges) - 1)])


@dataclass
class ColumnDomain:
    """One column's codes (see the module)."""

    name: str
    numeric: bool
    missing: bool
    integer: bool = False
    lo: float = 0.0
    hi: float = 0.0
    public: bool = False
    #: numeric: the fine histogram's edges and noisy counts (clipped at 0)
    fine_edges: list[float] = field(default_factory=list)
    fine_counts: list[float] = field(default_factory=list)
    #: numeric: indices into ``fine_edges`` of the coarse bins' edges
    cuts: list[int] = field(default_factory=list)
    #: discrete: the kept values (their keys are :func:`category_keys`), and whether others
    #: exist (an ``OTHER`` code)
    categories: list[Any] = field(default_factory=list)
    other: bool = False
    #: the kept value the other code is written as (columns that cannot hold ``_RARE_``:
    #: numbers, booleans, binary), or None for ``_RARE_``
    fold: Any = None
    step: float = 0.0

    @property
    def size(self) -> int:
        """How many codes: bins or categories (+ other), + missing."""
        base = len(self.cuts) - 1 if self.numeric else len(self.categories) + self.other
        return base + self.missing

    def encode(self, values: pd.Series) -> np.ndarray:
        """Codes of ``values`` (row-wise)."""
        if self.numeric:
            x = pd.to_numeric(values, errors="coerce").to_numpy(dtype=float)
            edges = np.asarray(self.fine_edges)[self.cuts]
            codes = np.clip(np.searchsorted(edges, np.clip(x, self.lo, self.hi), side="right")
                            - 1, 0, len(self.cuts) - 2)
            if self.missing:
                codes = np.where(np.isnan(x), len(self.cuts) - 1, codes)
            return codes.astype(np.int64)
        codes = category_codes(values, self.categories)  # -1 missing, len(...) other
        other = len(self.categories) if self.other else 0
        missing = len(self.categories) + self.other if self.missing else other
        return np.where(codes < 0, missing,
                        np.where(codes == len(self.categories), other, codes)).astype(np.int64)

    def decode(self, codes: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Values for ``codes``: a numeric bin's value drawn from its fine bins (by noisy
        count), uniform inside one, rounded to ``step``; a category as kept."""
        codes = np.asarray(codes, dtype=np.int64)
        if self.numeric:
            out = np.full(len(codes), np.nan)
            edges = np.asarray(self.fine_edges)
            weights = np.asarray(self.fine_counts) + 1e-9
            for b in range(len(self.cuts) - 1):
                rows = np.flatnonzero(codes == b)
                if not len(rows):
                    continue
                first, last = self.cuts[b], self.cuts[b + 1]
                w = weights[first:last] / weights[first:last].sum()
                fine = first + rng.choice(last - first, size=len(rows), p=w)
                out[rows] = edges[fine] + rng.random(len(rows)) * (edges[fine + 1] - edges[fine])
            if self.integer:
                out = np.round(out)
            elif self.step > 0:
                out = np.round(np.round(out / self.step) * self.step, 12)
            return np.clip(out, self.lo, self.hi)
        other = [OTHER if self.fold is None else self.fold] if self.other else []
        values = np.array(list(self.categories) + other + [None], dtype=object)
        return values[np.minimum(codes, len(values) - 1)]

    def to_dict(self) -> dict[str, Any]:
        return {k: getattr(self, k) for k in self.__dataclass_fields__}


def nice_step(width: float) -> float:
    """A round step (1, 2 or 5 × 10^k) near ``width``: the rounding of a column without a
    declared precision, from public quantities only."""
    if width <= 0 or not np.isfinite(width):
        return 0.0
    exp = np.floor(np.log10(width))
    for m in (1.0, 2.0, 5.0, 10.0):
        if m * 10 ** exp >= width:
            return float(m * 10 ** exp)
    return float(10 ** (exp + 1))


def fine_bins(coarse: int) -> int:
    """Fine bins for ``coarse`` coarse bins: :data:`FINE_PER_BIN` each, within bounds. Equal-
    mass coarse cuts can only fall on fine edges, so a skewed column (most stays short, a few
    long) needs fine bins much narrower than its coarse ones where the mass is; at small ε
    (few coarse bins) fewer fine bins keep the cumulative noise of the cuts low."""
    return int(np.clip(FINE_PER_BIN * coarse, MIN_FINE_BINS, MAX_FINE_BINS))


def numeric_domain(col: ColumnSchema, data: Sensitive, ledger: PrivacyLedger,
                   sigma_bounds: float, sigma: float, bins: int, step: str,
                   fine: int = MIN_FINE_BINS) -> ColumnDomain:
    """Bounds (public or DP), the noisy histogram of ``fine`` equal-width bins and ``bins``
    coarse bins of equal noisy mass."""
    dom = ColumnDomain(col.name, numeric=True, missing=col.missing_rate > 0,
                       integer=col.kind == "integer" or col.role == "datetime")
    lo, hi = col.public_min, col.public_max
    if lo is None or hi is None:
        found = dp_bounds(col, data, ledger, sigma_bounds, step)
        lo = found[0] if lo is None else lo
        hi = found[1] if hi is None else hi
    dom.public = col.public_min is not None and col.public_max is not None
    if hi <= lo:
        hi = lo + (1.0 if dom.integer else max(abs(lo) * 1e-3, 1e-6))
    dom.lo, dom.hi = float(lo), float(hi)
    edges = np.linspace(dom.lo, dom.hi, fine + 1)
    dom.fine_edges = edges.tolist()

    def histogram(frame: pd.DataFrame) -> np.ndarray:
        x = pd.to_numeric(frame[col.name], errors="coerce").to_numpy(dtype=float)
        cells = np.clip(np.searchsorted(edges, np.clip(x[np.isfinite(x)], dom.lo, dom.hi),
                                        side="right") - 1, 0, fine - 1)
        return np.bincount(cells, minlength=fine)

    noisy = ledger.gaussian_counts(data, histogram, sigma, step,
                                   f"the histogram of '{col.name}' ({fine} bins)")
    dom.fine_counts = np.clip(noisy, 0.0, None).tolist()
    dom.cuts = coarse_cuts(np.asarray(dom.fine_counts), bins)
    dom.step = col.precision if col.precision else nice_step((dom.hi - dom.lo) / 1000.0)
    return dom


def coarse_cuts(fine: np.ndarray, bins: int) -> list[int]:
    """Indices of fine edges cutting the noisy histogram into ``bins`` bins of about equal
    mass (fewer when mass is lumped); always ``0`` and ``len(fine)``."""
    total = fine.sum()
    if total <= 0 or bins <= 1:
        return [0, len(fine)]
    cum = np.concatenate([[0.0], np.cumsum(fine)]) / total
    cuts = {0, len(fine)}
    for k in range(1, bins):
        cuts.add(int(np.clip(np.searchsorted(cum, k / bins), 1, len(fine) - 1)))
    return sorted(cuts)


def discrete_domain(col: ColumnSchema, data: Sensitive, ledger: PrivacyLedger, sigma: float,
                    delta: float, step: str) -> tuple[ColumnDomain, dict[Any, float]]:
    """Public categories, or those whose noisy count clears the threshold; with the noisy
    counts (empty for public categories)."""
    dom = ColumnDomain(col.name, numeric=False, missing=col.missing_rate > 0, other=True)
    public = public_categories(col)
    if public is not None:
        dom.categories = public
        dom.fold = dom.categories[0] if _no_text(col) else None
        return dom, {}
    counts = ledger.thresholded_counts(data, col.name, sigma, delta, step)
    if not counts:
        raise ClinisynthError(
            f"column '{col.name}': no value is held by enough patients to be released at ε "
            f"{ledger.epsilon:g}; declare its categories (public_categories) or raise epsilon")
    order = {k: i for i, k in enumerate(category_keys(pd.Series(col.categories or [],
                                                                dtype=object)))}
    kept = sorted(counts, key=lambda k: (order.get(k, len(order)), str(k)))
    dom.categories = [key_value(k, col) for k in kept]
    if _no_text(col):
        dom.fold = key_value(max(kept, key=lambda k: counts[k]), col)
    return dom, {key_value(k, col): v for k, v in counts.items()}


def public_categories(col: ColumnSchema) -> list[Any] | None:
    """The categories that cost nothing: declared (``public_categories``), or the two of a
    binary column coded 0/1 or False/True (its type's domain, not a finding)."""
    if col.public_categories is not None:
        return list(col.public_categories)
    cats = list(col.categories or [])
    if col.kind == "binary" and len(cats) == 2:
        keys = {category_keys(pd.Series([c], dtype=object))[0] for c in cats}
        if keys in ({("n", 0.0), ("n", 1.0)}, {("b", False), ("b", True)}):
            return cats
    return None


def _no_text(col: ColumnSchema) -> bool:
    """A column that cannot hold ``_RARE_``: binary, or numbers or booleans."""
    dtype = str(col.dtype)
    return col.kind == "binary" or not (dtype in ("object", "category", "string", "str")
                                        or dtype.startswith("string"))


def key_value(key: Any, col: ColumnSchema) -> Any:
    """The value a :func:`category_key` stands for, in the column's kind (``("n", 2.0)`` is
    ``2`` where the column holds integers)."""
    kind, value = key
    if kind == "n" and float(value).is_integer() and "float" not in str(col.dtype):
        return int(value)
    return value
