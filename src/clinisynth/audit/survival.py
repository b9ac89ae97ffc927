"""Survival fidelity and utility: Kaplan-Meier curves and a Cox model's concordance.

For a survival pair (time ``T``, event indicator ``E``; a row is an event when ``E`` is in the
pair's ``event_values``, censored otherwise; rows missing either are left out):

Fidelity
    The Kaplan-Meier estimate ``S(t)`` (lifelines ``KaplanMeierFitter``) of train, holdout and
    synthetic, overall and per group (the target's classes when the target is not the event
    indicator, or a grouping column given by the caller). Two tables' curves are compared on
    ``[0, h]`` with ``h`` the shorter of their maximum follow-ups:

    * ``sup``: ``max_t |S_a(t) - S_b(t)|`` (exact: both are step functions, evaluated at every
      jump of either);
    * ``iad``: ``(1/h) ∫_0^h |S_a(t) - S_b(t)| dt``, the mean absolute gap over follow-up (exact).

    The score is ``synthetic vs train`` and its baseline is ``holdout vs train``: a holdout is
    real data the generator never saw, so a synthetic table whose distance is at most the
    holdout's is as close to train as fresh real patients are.
Utility
    Harrell's concordance index on the holdout of a Cox proportional-hazards model (lifelines
    ``CoxPHFitter``, ridge penalizer :data:`PENALIZER`) trained on the synthetic rows (TSTR)
    against one trained on the real training rows (TRTR). Covariates: every column but the time
    and the event (the utility module's design matrix: median imputation with missing flags and
    standardisation for numbers, one-hot for categories, fitted on the training table); columns
    constant in the training table are dropped. Beside the two, a 95 % interval of the gap
    ``TSTR - TRTR`` over holdout patients (:func:`gap_interval`): both models score the same
    bootstrap resamples of the holdout, so the interval says how far the gap can move with
    which patients were held out alone; a gap whose interval holds 0 is not told apart from
    no gap by this holdout (the training sample and the generator's seed add their own noise).

lifelines is an optional dependency (the ``survival`` extra): without it :func:`survival_scores`
returns ``None`` and the audit notes that the section was skipped.
"""

from __future__ import annotations

import html
import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.audit.inputs import as_float
from clinisynth.audit.plots import PALETTE, fmt, new_figure, png_b64
from clinisynth.audit.utility import feature_frame, preprocessor
from clinisynth.errors import ClinisynthError
from clinisynth.schema import ColumnSchema, TableSchema, category_key, check_survival

#: ridge penalty of the Cox model (keeps one-hot and near-separated covariates finite)
PENALIZER = 0.1
#: fewest rows (and at least one event) a table needs in a group to get a curve there
MIN_GROUP_ROWS = 10
#: points of the plotting grid stored with the result
GRID_POINTS = 120
#: bootstrap resamples of the holdout for the C-index gap's interval, and the most rows one
#: resample holds (larger holdouts: m-out-of-n, the interval scaled by sqrt(m / n))
RESAMPLES, RESAMPLE_ROWS = 200, 1000
TABLES = ("train", "holdout", "synthetic")


def lifelines_available() -> bool:
    try:
        import lifelines  # noqa: F401  (lazy: optional extra, survival)
    except ImportError:
        return False
    return True


@dataclass
class SurvivalResult:
    """KM distances overall and per group, Cox C-indices, and curves on a grid for plots."""

    time: str
    event: str
    event_values: list[Any]
    group: str | None
    distances: list[dict[str, Any]]  # one per group: {"group", "rows", "events", "sup", ...}
    cindex: dict[str, float]  # {"TRTR", "TSTR"}
    covariates: list[str]
    curves: dict[str, Any] = field(default_factory=dict, repr=False)
    notes: list[str] = field(default_factory=list)
    #: TSTR - TRTR and its 95 % interval over holdout resamples: {"gap", "low", "high"}
    gap: dict[str, float] = field(default_factory=dict)

    @property
    def overall(self) -> dict[str, Any] | None:
        """The all-rows comparison, or None when some table had too few rows or no event."""
        first = self.distances[0] if self.distances else None
        return first if first is not None and first["group"] == "all" else None

    def headline(self) -> dict[str, float]:
        """The flat numbers: overall KM distances and their baseline, the two C-indices (NaN
        where undefined)."""
        o = self.overall
        nan = math.nan
        return {
            "km_sup_synthetic": o["sup"]["synthetic"] if o else nan,
            "km_sup_holdout": o["sup"]["holdout"] if o else nan,
            "km_iad_synthetic": o["iad"]["synthetic"] if o else nan,
            "km_iad_holdout": o["iad"]["holdout"] if o else nan,
            "cindex_trtr": self.cindex["TRTR"], "cindex_tstr": self.cindex["TSTR"],
            "cindex_gap_low": self.gap.get("low", nan),
            "cindex_gap_high": self.gap.get("high", nan),
        }

    def to_dict(self) -> dict[str, Any]:
        return {"time": self.time, "event": self.event, "event_values": self.event_values,
                "group": self.group, "headline": self.headline(), "distances": self.distances,
                "cindex": self.cindex, "cindex_gap": self.gap, "covariates": self.covariates,
                "notes": self.notes, "curves": self.curves}


def resolve_pairs(schema: TableSchema, survival: Any) -> list[dict[str, Any]]:
    """The pairs to score: ``survival`` given as ``(time, event)`` or a mapping, else the
    schema's own pairs (none when it has none)."""
    if survival is None:
        return list(schema.survival or [])
    if isinstance(survival, Mapping):
        pair = dict(survival)
    elif isinstance(survival, Sequence) and not isinstance(survival, str) and len(survival) == 2:
        pair = {"time": survival[0], "event": survival[1]}
    else:
        raise ClinisynthError("survival must be (time column, event column) or a mapping")
    for known in schema.survival or []:
        if pair.get("event") == known["event"]:
            pair.setdefault("event_values", known["event_values"])
    return [check_survival(schema, pair)]


def survival_scores(train: pd.DataFrame, holdout: pd.DataFrame, synthetic: pd.DataFrame,
                    schema: TableSchema, pair: Mapping[str, Any], group: str | None = None,
                    covariates: Sequence[str] | None = None, seed: int = 0
                    ) -> SurvivalResult | None:
    """Score ``synthetic``'s survival structure (see the module doc); None without lifelines.

    ``group``: a discrete column to draw and score per-group curves for (default: the target,
    unless it is the event indicator). ``covariates``: the Cox model's columns (default: all
    but the time and the event). ``seed``: the holdout resamples of the gap's interval.
    """
    if not lifelines_available():
        return None
    time_col, event = pair["time"], pair["event"]
    if group is None and schema.target != event:
        group = schema.target
    if group is not None:
        if group not in schema.names or schema[group].is_numeric:
            raise ClinisynthError(f"survival group column '{group}' must be a discrete column")
        if group in (time_col, event):
            raise ClinisynthError(f"survival group column '{group}' is the time or the event")
    tables = dict(zip(TABLES, (train, holdout, synthetic), strict=True))
    te = {name: _time_event(df, pair) for name, df in tables.items()}
    notes: list[str] = []
    distances, curves = [], {}
    groups: list[tuple[str, dict[str, np.ndarray]]] = [
        ("all", {name: np.ones(len(df), dtype=bool) for name, df in tables.items()})]
    if group is not None:
        for value in schema[group].categories or []:
            key = category_key(value)
            groups.append((str(value), {name: np.array([category_key(v) == key
                                                        for v in df[group]], dtype=bool)
                                        for name, df in tables.items()}))
    for label, masks in groups:
        row, curve = _compare(te, masks, label)
        if row is None:
            notes.append(f"group {label}: fewer than {MIN_GROUP_ROWS} rows or no event in "
                         "some table; no curve")
            continue
        distances.append(row)
        curves[label] = curve
    names = [c for c in (covariates if covariates is not None else schema.names)
             if c not in (time_col, event)]
    for name in names:
        if name not in schema.names:
            raise ClinisynthError(f"survival covariate '{name}' is not a column")
    risks = {"TRTR": _cox_risk(tables["train"], te["train"], holdout, te["holdout"],
                               schema, names, event, notes, "TRTR"),
             "TSTR": _cox_risk(tables["synthetic"], te["synthetic"], holdout, te["holdout"],
                               schema, names, event, notes, "TSTR")}
    t_test, e_test = te["holdout"]
    ok = np.isfinite(t_test)
    cindex = {k: math.nan if r is None else concordance(t_test[ok], e_test[ok], r)
              for k, r in risks.items()}
    gap = {}
    if risks["TRTR"] is not None and risks["TSTR"] is not None:
        gap = gap_interval(t_test[ok], e_test[ok], risks["TRTR"], risks["TSTR"],
                           np.random.default_rng(seed),
                           gap=cindex["TSTR"] - cindex["TRTR"])  # C-indices computed above
    return SurvivalResult(time=time_col, event=event, event_values=list(pair["event_values"]),
                          group=group, distances=distances, cindex=cindex, covariates=names,
                          curves=curves, notes=notes, gap=gap)


# -- Kaplan-Meier ------------------------------------------------------------------------------
def _time_event(df: pd.DataFrame, pair: Mapping[str, Any]) -> tuple[np.ndarray, np.ndarray]:
    """(time, event 0/1) with NaN time where the time or the indicator is missing."""
    t = as_float(df[pair["time"]])
    keys = {category_key(v) for v in pair["event_values"]}
    raw = df[pair["event"]]
    e = np.array([not pd.isna(v) and category_key(v) in keys for v in raw], dtype=float)
    t[raw.isna().to_numpy()] = np.nan
    return t, e


def km_fit(time: np.ndarray, event: np.ndarray) -> Any:
    """A fitted lifelines ``KaplanMeierFitter`` (rows with a missing time left out)."""
    from lifelines import KaplanMeierFitter  # lazy: optional extra (survival)

    ok = np.isfinite(time)
    return KaplanMeierFitter().fit(time[ok], event_observed=event[ok])


def km_distance(fit_a: Any, fit_b: Any) -> tuple[float, float, float]:
    """``(sup, iad, horizon)`` between two fitted KM curves on their shared follow-up."""
    t_a = fit_a.survival_function_.index.to_numpy(dtype=float)
    t_b = fit_b.survival_function_.index.to_numpy(dtype=float)
    horizon = float(min(t_a.max(), t_b.max()))
    grid = np.unique(np.r_[0.0, t_a[t_a <= horizon], t_b[t_b <= horizon], horizon])
    gap = np.abs(fit_a.survival_function_at_times(grid).to_numpy()
                 - fit_b.survival_function_at_times(grid).to_numpy())
    sup = float(gap.max())
    if horizon <= 0:
        return sup, 0.0, horizon
    iad = float(np.sum(gap[:-1] * np.diff(grid)) / horizon)  # right-continuous steps
    return sup, iad, horizon


def _compare(te: dict[str, tuple[np.ndarray, np.ndarray]], masks: dict[str, np.ndarray],
             label: str) -> tuple[dict[str, Any] | None, dict[str, Any]]:
    fits, rows, events = {}, {}, {}
    for name in TABLES:
        t, e = te[name]
        keep = masks[name] & np.isfinite(t)
        rows[name], events[name] = int(keep.sum()), int(e[keep].sum())
        if rows[name] < MIN_GROUP_ROWS or events[name] == 0:
            return None, {}
        fits[name] = km_fit(t[keep], e[keep])
    sup, iad, horizon = {}, {}, {}
    for name in ("holdout", "synthetic"):
        sup[name], iad[name], horizon[name] = km_distance(fits[name], fits["train"])
    top = max(float(f.survival_function_.index.max()) for f in fits.values())
    grid = np.linspace(0.0, top, GRID_POINTS)
    curve: dict[str, Any] = {"t": grid}
    for name in TABLES:  # each curve stops at its table's last follow-up (NaN beyond)
        values = fits[name].survival_function_at_times(grid).to_numpy(dtype=float)
        values[grid > float(fits[name].survival_function_.index.max())] = np.nan
        curve[name] = values
    row = {"group": label, "rows": rows, "events": events, "sup": sup, "iad": iad,
           "horizon": horizon,
           "within_baseline": bool(sup["synthetic"] <= sup["holdout"]
                                   and iad["synthetic"] <= iad["holdout"])}
    return row, curve


# -- Cox concordance ---------------------------------------------------------------------------
def concordance(time: np.ndarray, event: np.ndarray, risk: np.ndarray) -> float:
    """Harrell's C of ``risk`` (higher: earlier event) on ``(time, event)``."""
    from lifelines.utils import concordance_index  # lazy: optional extra (survival)

    return float(concordance_index(time, -risk, event))


def gap_interval(time: np.ndarray, event: np.ndarray, risk_real: np.ndarray,
                 risk_synthetic: np.ndarray, rng: np.random.Generator,
                 resamples: int = RESAMPLES, rows: int = RESAMPLE_ROWS,
                 gap: float | None = None) -> dict[str, float]:
    """``{"gap", "low", "high"}``: ``gap = C(risk_synthetic) - C(risk_real)`` on the holdout
    (computed unless given) and a 95 % interval from ``resamples`` paired bootstrap resamples
    of its rows: ``gap + (q_2.5 - q_50, q_97.5 - q_50)`` of the resampled gaps, times
    ``sqrt(m / n)`` when a resample holds ``m = min(n, rows)`` of the ``n`` rows (a C-index
    moves as ``1/sqrt(n)``). NaN bounds when fewer than 2 resamples have an event pair to
    compare."""
    n = len(time)
    if gap is None:
        gap = concordance(time, event, risk_synthetic) - concordance(time, event, risk_real)
    m = min(n, rows)
    draws = []
    for _ in range(resamples):
        pick = rng.integers(n, size=m)
        if event[pick].sum() == 0:
            continue
        try:
            draws.append(concordance(time[pick], event[pick], risk_synthetic[pick])
                         - concordance(time[pick], event[pick], risk_real[pick]))
        except ZeroDivisionError:  # no comparable pair in this resample
            continue
    if len(draws) < 2:
        return {"gap": gap, "low": math.nan, "high": math.nan}
    lo, mid, hi = np.quantile(draws, [0.025, 0.5, 0.975])
    scale = math.sqrt(m / n)
    return {"gap": gap, "low": float(gap + (lo - mid) * scale),
            "high": float(gap + (hi - mid) * scale)}


def _cox_risk(fit_df: pd.DataFrame, fit_te: tuple[np.ndarray, np.ndarray],
              test_df: pd.DataFrame, test_te: tuple[np.ndarray, np.ndarray],
              schema: TableSchema, covariates: list[str], event: str, notes: list[str],
              scenario: str) -> np.ndarray | None:
    """Partial hazards on the test rows (those with a time) of a Cox model fitted on
    ``fit_df`` (None, with a note, when it cannot be fitted)."""
    from lifelines import CoxPHFitter  # lazy: optional extra (survival)
    from lifelines.exceptions import ConvergenceError  # lazy: optional extra (survival)

    sub = TableSchema(columns=[schema[c] for c in covariates]
                      + [ColumnSchema(name="__event__", kind="binary", dtype="int64",
                                      categories=[0, 1])], target="__event__")
    t_fit, e_fit = fit_te
    t_test = test_te[0]
    ok_fit, ok_test = np.isfinite(t_fit), np.isfinite(t_test)
    if e_fit[ok_fit].sum() < 2 or not covariates:
        notes.append(f"Cox {scenario}: fewer than 2 events or no covariates; no C-index")
        return None
    x_fit = feature_frame(fit_df.loc[ok_fit], sub)
    prep = preprocessor(sub).fit(x_fit)
    design = prep.transform(x_fit)
    keep = design.std(axis=0) > 0
    design = pd.DataFrame(design[:, keep], columns=[f"x{i}" for i in range(int(keep.sum()))])
    x_test = pd.DataFrame(prep.transform(feature_frame(test_df.loc[ok_test], sub))[:, keep],
                          columns=design.columns)
    design["__T__"] = t_fit[ok_fit]
    design["__E__"] = e_fit[ok_fit]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            cph = CoxPHFitter(penalizer=PENALIZER).fit(design, "__T__", "__E__")
    except (ConvergenceError, np.linalg.LinAlgError, ValueError) as exc:
        notes.append(f"Cox {scenario}: did not converge ({str(exc).splitlines()[0][:80]})")
        return None
    return cph.predict_partial_hazard(x_test).to_numpy(dtype=float)


# -- report ------------------------------------------------------------------------------------
def km_figure(result: SurvivalResult) -> Any:
    """Kaplan-Meier curves of train, holdout and synthetic: overall and per group (up to 6)."""

    labels = list(result.curves)[:6]
    cols = min(3, len(labels))
    nrows = math.ceil(len(labels) / cols)
    fig = new_figure(3.4 * cols, 2.8 * nrows)
    axes = np.atleast_1d(fig.subplots(nrows, cols, squeeze=False)).ravel()
    styles = {"train": (PALETTE[7], "-"), "holdout": (PALETTE[0], "--"),
              "synthetic": (PALETTE[1], "-")}
    for ax, label in zip(axes, labels, strict=False):
        curve = result.curves[label]
        for name in TABLES:
            colour, dash = styles[name]
            ax.step(curve["t"], curve[name], where="post", color=colour, linestyle=dash,
                    linewidth=1.4, label=name)
        title = "all rows" if label == "all" else f"{result.group} = {label}"
        ax.set_title(title, fontsize=9)
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel(result.time, fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in axes[len(labels):]:
        ax.set_visible(False)
    axes[0].set_ylabel("survival S(t)", fontsize=8)
    axes[0].legend(fontsize=7, frameon=False)
    return fig


def _gap_text(gap: Mapping[str, float]) -> str:
    if not gap or not math.isfinite(gap.get("low", math.nan)):
        return ""
    return (f"; the gap {gap['gap']:+.3f} moves from {gap['low']:+.3f} to {gap['high']:+.3f} "
            "over resamples of the holdout patients (95 %)")


def survival_section(result: SurvivalResult) -> list[dict[str, str]]:
    """Report sections (``{"title", "html"}``): the distance table, the C-indices, the plot."""


    esc = html.escape
    rows = "".join(
        f"<tr><td class='l'>{esc(str(d['group']))}</td><td>{d['rows']['train']}</td>"
        f"<td>{d['events']['train']}</td><td>{fmt(d['sup']['synthetic'])}</td>"
        f"<td>{fmt(d['sup']['holdout'])}</td><td>{fmt(d['iad']['synthetic'])}</td>"
        f"<td>{fmt(d['iad']['holdout'])}</td>"
        f"<td>{'yes' if d['within_baseline'] else 'no'}</td></tr>"
        for d in result.distances)
    values = ", ".join(esc(str(v)) for v in result.event_values)
    text = (
        f"<p class='note'>Time <code>{esc(result.time)}</code>, event <code>"
        f"{esc(result.event)}</code> in {{{values}}} (other values are censored). Distances "
        "between Kaplan-Meier curves on the shared follow-up: sup = largest gap, IAD = mean "
        "absolute gap over time (both 0 to 1, lower is better); the holdout's distance to "
        "train is the baseline a synthetic table should not exceed.</p>"
        "<table><tr><th class='l'>group</th><th>train rows</th><th>train events</th>"
        "<th>sup synthetic</th><th>sup holdout</th><th>IAD synthetic</th><th>IAD holdout</th>"
        f"<th>within baseline</th></tr>{rows}</table>"
        f"<p>Cox model concordance on the holdout (0 to 1, higher is better; 0.5 = chance): "
        f"trained on real {fmt(result.cindex['TRTR'])}, trained on synthetic "
        f"{fmt(result.cindex['TSTR'])}{_gap_text(result.gap)}.</p>"
        + "".join(f"<p class='note'>{esc(n)}</p>" for n in result.notes)
    )
    if result.curves:
        text += (f"<div class='wide'><img alt='Kaplan-Meier curves' "
                 f"src='data:image/png;base64,{png_b64(km_figure(result))}'></div>")
    return [{"title": f"Survival: {result.time} / {result.event}", "html": text}]
