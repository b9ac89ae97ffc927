"""The HTML audit report: one self-contained file, figures embedded as base64 PNG.

Figures are drawn with matplotlib's object API on the Agg canvas (no pyplot, no global state).
Plot helpers return a :class:`~matplotlib.figure.Figure`; :func:`png_b64` turns any figure into
the string the template embeds, so other sections (weights, reward traces) can reuse them.
"""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from clinisynth.audit.inputs import as_float, category_codes
from clinisynth.audit.result import DIRECTIONS, HEADLINE_KEYS, LABELS, AuditResult, describe
from clinisynth.errors import ClinisynthError
from clinisynth.io import atomic_path
from clinisynth.schema import category_key

TEMPLATES = Path(__file__).parent / "templates"
PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
MAX_CATEGORIES = 12
GROUPS = {
    "Fidelity": ("ks_mean", "wasserstein_mean", "tv_mean", "pair_trend",
                 "contingency_similarity", "corr_frobenius", "detection_auc"),
    "Utility": ("trtr_accuracy", "tstr_accuracy", "trtr_f1", "tstr_f1", "trtr_auc", "tstr_auc",
                "tstr_trtr_f1_ratio"),
    "Privacy": ("dcr_median", "dcr_share", "exact_copies", "holdout_exact_copies", "nnaa_train",
                "nnaa_holdout", "privacy_loss", "mia_auc"),
    "Risk": ("calibrated_dcr", "singling_out_risk", "linkability_risk", "inference_risk"),
}


# -- figures -----------------------------------------------------------------------------------
def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure on the Agg canvas, sized in inches (constrained layout unless told not to)."""
    fig = Figure(figsize=(width, height), layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def _small_axes(fig: Figure) -> Any:
    """Fixed axes for the per-column figures: room for ticks on the left, legend below."""
    return fig.add_axes((0.14, 0.21, 0.83, 0.69))


def png_b64(fig: Figure, dpi: int = 100) -> str:
    """The figure as a base64-encoded PNG (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _class_masks(df: pd.DataFrame, target: str | None, classes: Sequence[Any]
                 ) -> list[tuple[str, np.ndarray]]:
    if target is None or target not in df.columns:
        return [("all", np.ones(len(df), dtype=bool))]
    keys = [category_key(v) for v in df[target]]
    return [(str(c), np.array([k == category_key(c) for k in keys], dtype=bool))
            for c in classes]


def numeric_overlay(name: str, real: pd.DataFrame, synthetic: pd.DataFrame,
                    target: str | None, classes: Sequence[Any]) -> Figure:
    """Histogram per class: real filled, synthetic as a line of the same colour (densities)."""
    r_all, s_all = as_float(real[name]), as_float(synthetic[name])
    both = np.r_[r_all, s_all]
    both = both[np.isfinite(both)]
    fig = new_figure(3.6, 2.7, constrained=False)
    ax = _small_axes(fig)
    edges = np.histogram_bin_edges(both if len(both) else [0.0, 1.0], bins=25)
    masks_r = _class_masks(real, target, classes)
    masks_s = dict(_class_masks(synthetic, target, classes))
    for i, (label, mask) in enumerate(masks_r):
        colour = PALETTE[i % len(PALETTE)]
        r = r_all[mask & np.isfinite(r_all)]
        s = s_all[masks_s[label] & np.isfinite(s_all)]
        if len(r):
            ax.stairs(np.histogram(r, bins=edges, density=True)[0], edges, fill=True,
                      color=colour, alpha=0.3, label=f"real {label}")
        if len(s):
            ax.stairs(np.histogram(s, bins=edges, density=True)[0], edges, color=colour,
                      linewidth=1.6, label=f"synthetic {label}")
    _style(ax, name)
    return fig


def categorical_overlay(name: str, real: pd.DataFrame, synthetic: pd.DataFrame,
                        target: str | None, classes: Sequence[Any]) -> Figure:
    """Category shares per class: real filled bars, synthetic hatched outline bars."""
    (c_r, c_s), k = category_codes([real[name], synthetic[name]])
    labels = _code_labels(real[name], synthetic[name], k)
    counts = np.bincount(c_r, minlength=k)
    order = np.argsort(-counts, kind="stable")[:MAX_CATEGORIES]
    is_target = name == target
    groups = [("", np.ones(len(real), bool))] if is_target else _class_masks(
        real, target, classes)
    groups_s = dict([("", np.ones(len(synthetic), bool))] if is_target else _class_masks(
        synthetic, target, classes))
    fig = new_figure(3.6, 2.7, constrained=False)
    ax = _small_axes(fig)
    width = 0.8 / (2 * len(groups))
    x = np.arange(len(order))
    for i, (label, mask) in enumerate(groups):
        colour = PALETTE[i % len(PALETTE)]
        p_r = _shares(c_r[mask], k)[order]
        p_s = _shares(c_s[groups_s[label]], k)[order]
        base = x - 0.4 + width * (2 * i + 0.5)
        ax.bar(base, p_r, width, color=colour, alpha=0.45, label=f"real {label}".strip())
        ax.bar(base + width, p_s, width, facecolor="none", edgecolor=colour, hatch="///",
               linewidth=1.0, label=f"synthetic {label}".strip())
    ax.set_xticks(x, [labels[j] for j in order], fontsize=7,
                  rotation=30 if len(order) > 4 else 0)
    _style(ax, name)
    return fig


def _shares(codes: np.ndarray, k: int) -> np.ndarray:
    return np.bincount(codes, minlength=k) / max(len(codes), 1)


def _code_labels(real: pd.Series, synthetic: pd.Series, k: int) -> list[str]:
    """Readable label per shared code (the first raw value seen with that code)."""
    (c_r, c_s), _ = category_codes([real, synthetic])
    labels = [""] * k
    for code, value in zip(np.r_[c_r, c_s], pd.concat([real, synthetic]), strict=True):
        if not labels[code]:
            labels[code] = "missing" if pd.isna(value) else str(value)[:14]
    return labels


def _style(ax: Any, title: str) -> None:
    """Title, small ticks, and the legend under the plot so it never hides the data."""
    ax.set_title(title, fontsize=9)
    ax.tick_params(labelsize=7)
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        loc = "outside lower center" if ax.figure.get_layout_engine() else "lower center"
        ncol = len(labels) if len(labels) <= 2 else min(4, math.ceil(len(labels) / 2))
        ax.figure.legend(handles, labels, loc=loc, ncol=ncol, fontsize=6.5,
                         frameon=False, handlelength=1.5, columnspacing=1.0)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def correlation_figure(columns: Sequence[str], c_real: np.ndarray,
                       c_syn: np.ndarray) -> Figure:
    """2×2: real and synthetic correlation heatmaps (scale -1 to 1), their difference (own
    symmetric scale), and r_syn against r_real for every pair (on the diagonal = reproduced)."""
    n = len(columns)
    side = min(max(3.6, 0.17 * n + 1.8), 7.0)
    fig = new_figure(2 * side + 1.2, 2 * side + 0.4)
    axes = fig.subplots(2, 2)
    labels = [str(c)[:18] for c in columns]
    size = 8 if n <= 15 else 6 if n <= 35 else 4
    diff = c_syn - c_real
    span = float(np.nanmax(np.abs(diff))) if np.isfinite(diff).any() else 0.0
    span = max(0.1, math.ceil(span * 10) / 10)
    panels = ((axes[0, 0], "real (train)", c_real, 1.0),
              (axes[0, 1], "synthetic", c_syn, 1.0),
              (axes[1, 0], "difference (synthetic - real)", diff, span))
    for ax, title, matrix, vlim in panels:
        image = ax.imshow(matrix, cmap="RdBu_r", vmin=-vlim, vmax=vlim,
                          interpolation="nearest")
        ax.set_title(title, fontsize=11)
        ax.set_xticks(range(n), labels, rotation=90, fontsize=size)
        ax.set_yticks(range(n), labels, fontsize=size)
        fig.colorbar(image, ax=ax, shrink=0.75, label="Pearson r" if vlim == 1.0 else "Δr")
    _pair_scatter(axes[1, 1], c_real, c_syn)
    return fig


def _pair_scatter(ax: Any, c_real: np.ndarray, c_syn: np.ndarray) -> None:
    """r_syn against r_real over the upper triangle, with the identity line."""
    iu = np.triu_indices(len(c_real), k=1)
    ax.plot([-1, 1], [-1, 1], color="#888888", linewidth=1, linestyle="--")
    ax.scatter(c_real[iu], c_syn[iu], s=8, alpha=0.6, color=PALETTE[0])
    ax.set_xlim(-1.05, 1.05)
    ax.set_ylim(-1.05, 1.05)
    ax.set_aspect("equal")
    ax.set_xlabel("r real", fontsize=9)
    ax.set_ylabel("r synthetic", fontsize=9)
    ax.set_title("every pair: synthetic vs real correlation", fontsize=11)
    ax.tick_params(labelsize=8)


def dcr_figure(d_train: np.ndarray, d_holdout: np.ndarray) -> Figure:
    """Histograms of synthetic→train and synthetic→holdout closest-record distances."""
    fig = new_figure(6.4, 3.0)
    ax = fig.add_subplot()
    both = np.r_[d_train, d_holdout]
    edges = np.histogram_bin_edges(both if len(both) else [0.0, 1.0], bins=40)
    ax.hist(d_train, bins=edges, alpha=0.5, color=PALETTE[1], label="synthetic → train sample")
    ax.hist(d_holdout, bins=edges, alpha=0.5, color=PALETTE[0],
            label="synthetic → holdout sample")
    for values, colour in ((d_train, PALETTE[1]), (d_holdout, PALETTE[0])):
        if len(values):
            ax.axvline(float(np.median(values)), color=colour, linestyle="--", linewidth=1.2)
    ax.set_xlabel("distance to closest record (standardised mixed-type encoding)", fontsize=8)
    ax.set_ylabel("synthetic rows", fontsize=8)
    _style(ax, "Distance to closest record (dashed: medians)")
    return fig


# -- page --------------------------------------------------------------------------------------
def fmt(value: Any, key: str = "") -> str:
    """A score as text: counts as integers, others to 3 decimals, undefined as 'n/a'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if "copies" in key or isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.3f}"


def _cards(result: AuditResult) -> list[dict[str, Any]]:
    head = result.headline()
    flagged = {f["key"] for f in result.flags}
    groups = []
    for group, keys in GROUPS.items():
        tiles = [{"key": k, "value": fmt(head[k], k), "label": LABELS[k],
                  "range": DIRECTIONS[k][0], "direction": DIRECTIONS[k][1],
                  "flag": k in flagged} for k in keys]
        groups.append({"name": group, "tiles": tiles})
    assert sum(len(g["tiles"]) for g in groups) == len(HEADLINE_KEYS)
    return groups


def _utility_rows(result: AuditResult) -> list[dict[str, str]]:
    rows = []
    for row in result.utility.scores:
        rows.append({"scenario": row["scenario"], "model": row["model"].replace("_", " "),
                     **{m: fmt(row[m]) for m in ("accuracy", "precision", "recall", "f1",
                                                 "roc_auc")}})
    return rows


def _column_rows(result: AuditResult) -> list[dict[str, str]]:
    return [{"name": c.name, "kind": c.kind, "ks": fmt(c.ks), "wasserstein": fmt(c.wasserstein),
             "tv": fmt(c.tv), "real_missing": fmt(c.real_missing),
             "synthetic_missing": fmt(c.synthetic_missing)}
            for c in result.fidelity.columns]


def _ci(low: float, high: float) -> str:
    return f"[{fmt(low)}, {fmt(high)}]"


def _risk_rows(result: AuditResult) -> dict[str, Any] | None:
    """The attacks as display rows: rates with intervals, risk, meaning and verdict."""
    if result.risk is None:
        return None
    from clinisynth.audit.risk import verdict

    rows = []
    for name, a in result.risk.attacks.items():
        rows.append({
            "name": name.replace("_", " ").replace(":", ": "), "meaning": a.meaning,
            "attacks": a.attacks,
            "attack": fmt(a.attack.value), "attack_ci": _ci(*a.attack.ci),
            "control": fmt(a.control.value), "control_ci": _ci(*a.control.ci),
            "baseline": f"{fmt(a.baseline.value)}",
            "risk": fmt(a.risk), "risk_ci": _ci(*a.risk_ci),
            "flag": math.isfinite(a.risk) and a.risk_ci[0] > 0,
            "verdict": verdict(a),
        })
    r = result.risk
    return {"rows": rows, "quasi_identifiers": r.quasi_identifiers, "secrets": r.secrets,
            "n_attacks": r.n_attacks, "notes": r.notes,
            "linkability": r.attacks["linkability"].details if "linkability" in r.attacks
            else None}


def _calibrated(result: AuditResult) -> dict[str, str]:
    pri = result.privacy
    value, base = pri.calibrated_dcr, pri.calibrated_dcr_baseline
    if not math.isfinite(value):
        verdict = "Not measured."
    elif value <= base + 0.01:
        verdict = ("Like fresh patients: synthetic rows come as close to training patients as "
                   "unseen real patients do.")
    elif value <= base + 0.03:
        verdict = "Slightly closer to training patients than unseen patients are."
    else:
        verdict = (f"Too close: {value:.1%} of synthetic rows sit nearer a training patient than "
                   f"98 % of unseen patients do ({base:.1%} expected).")
    return {"value": fmt(value), "baseline": fmt(base), "tau": fmt(pri.calibrated_dcr_tau),
            "verdict": verdict}


def check_sections(sections: Sequence[dict[str, str]] | None) -> list[dict[str, str]]:
    """Extra sections: each ``{"title", "html"}`` or ``{"title", "image_png_b64"}``."""
    out = []
    for i, section in enumerate(sections or []):
        if not isinstance(section, dict) or not isinstance(section.get("title"), str):
            raise ClinisynthError(f"extra section {i}: needs a 'title' string")
        has = [k for k in ("html", "image_png_b64") if section.get(k)]
        if len(has) != 1:
            raise ClinisynthError(
                f"extra section '{section['title']}': give exactly one of 'html' or "
                "'image_png_b64'")
        out.append({"title": section["title"], has[0]: str(section[has[0]])})
    return out


def column_figures(result: AuditResult, train: pd.DataFrame,
                   synthetic: pd.DataFrame) -> list[str]:
    """One base64 PNG per column: real (train) against synthetic, per class."""
    target = result.meta.get("target")
    classes = result.meta.get("classes") or []
    images = []
    for col in result.fidelity.columns:
        name = col.name
        if col.kind in ("continuous", "integer"):
            fig = numeric_overlay(name, train, synthetic, target, classes)
        else:
            fig = categorical_overlay(name, train, synthetic, target, classes)
        images.append(png_b64(fig, dpi=110))
    return images


def render_html(result: AuditResult, train: pd.DataFrame | None = None,
                synthetic: pd.DataFrame | None = None,
                extra_sections: Sequence[dict[str, str]] | None = None) -> str:
    """The report as one HTML string."""
    sections = check_sections(extra_sections)
    if result.survival is not None:
        from clinisynth.audit.survival import survival_section

        sections = survival_section(result.survival) + sections
    fid, pri = result.fidelity, result.privacy
    corr_png = (png_b64(correlation_figure(fid.corr_columns, fid.corr_real, fid.corr_synthetic))
                if len(fid.corr_columns) >= 2 else None)
    dcr_png = png_b64(dcr_figure(pri.dcr_train, pri.dcr_holdout)) if len(pri.dcr_train) else None
    overlays = None
    if train is not None and synthetic is not None:
        names = [c.name for c in fid.columns]
        overlays = list(zip(names, column_figures(result, train, synthetic), strict=True))
    # every value is escaped (column names and labels come from the user's file); only the
    # extra sections' own "html" is inserted as is, and callers escape what they put in it
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    template = env.get_template("report.html.j2")
    return template.render(
        meta=result.meta, groups=_cards(result), flags=result.flags,
        columns=_column_rows(result), overlays=overlays, corr_png=corr_png, dcr_png=dcr_png,
        utility_rows=_utility_rows(result), ratios=result.utility.ratios,
        importance=result.utility.importance, privacy=pri.to_dict(), fidelity=fid,
        sections=sections, describe=describe, fmt=fmt, risk=_risk_rows(result),
        calibrated=_calibrated(result),
    )


def write_html_report(result: AuditResult, path: str | Path, train: pd.DataFrame | None = None,
                      holdout: pd.DataFrame | None = None,
                      synthetic: pd.DataFrame | None = None,
                      extra_sections: Sequence[dict[str, str]] | None = None) -> Path:
    """Render the report and write it atomically to ``path``; return the path.

    Per-column overlays need ``train`` and ``synthetic``; the heatmaps, DCR histogram and
    tables come from ``result`` alone. ``holdout`` is accepted for symmetry with
    :func:`clinisynth.audit.audit` and is not drawn (the holdout enters through the scores).
    ``extra_sections``: a list of ``{"title": str, "html": str}`` (trusted HTML) or
    ``{"title": str, "image_png_b64": str}``, shown after the audit's own sections.
    """
    del holdout
    text = render_html(result, train=train, synthetic=synthetic, extra_sections=extra_sections)
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
