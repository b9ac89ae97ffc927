"""The audit's figures (per-column overlays, correlations, distances to closest records) and
what the report and the survival audit share: the palette, a figure on the Agg canvas, a figure
as an inline PNG, and a score as text."""

from __future__ import annotations

import base64
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from clinisynth.audit.inputs import as_float, category_codes
from clinisynth.values import category_key, category_keys, held_counts

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
MAX_CATEGORIES = 12
#: how a category fewer than k real rows hold is shown
RARE_LABEL = "(rare)"


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A figure on the Agg canvas, sized in inches (constrained layout unless told not to)."""
    fig = Figure(figsize=(width, height), layout="constrained" if constrained else None)
    FigureCanvasAgg(fig)
    return fig


def png_b64(fig: Figure, dpi: int = 100) -> str:
    """The figure as a base64-encoded PNG (for ``<img src="data:image/png;base64,...">``)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _small_axes(fig: Figure) -> Any:
    """Fixed axes for the per-column figures: room for ticks on the left, legend below."""
    return fig.add_axes((0.14, 0.21, 0.83, 0.69))


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
                        target: str | None, classes: Sequence[Any], rare_below: int = 0
                        ) -> Figure:
    """Category shares per class: real filled bars, synthetic hatched outline bars. Categories
    fewer than ``rare_below`` real rows hold are drawn as one bar, ``(rare)``: the report never
    shows a patient's own value."""
    if rare_below > 1 and name != target:
        real, synthetic = (_pool_rare(frame, name, real[name], rare_below)
                           for frame in (real, synthetic))
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


def _pool_rare(frame: pd.DataFrame, name: str, reference: pd.Series, k: int) -> pd.DataFrame:
    """``frame`` with the values of ``name`` that fewer than ``k`` rows of ``reference`` hold
    replaced by ``(rare)``."""
    rare = {key for key, n in held_counts(reference).items() if n < k}
    if not rare:
        return frame
    column = frame[name].astype(object)
    column[np.array([key in rare for key in category_keys(column)], dtype=bool)] = RARE_LABEL
    return frame.assign(**{name: column})


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


def fmt(value: Any, key: str = "") -> str:
    """A score as text: counts as integers, others to 3 decimals, undefined as 'n/a'."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    if "copies" in key or isinstance(value, int | np.integer):
        return str(int(value))
    return f"{float(value):.3f}"
