"""The linked-tables audit as a self-contained HTML page: the figures of
:func:`clinisynth.audit.linked.linked_audit` and plots of trajectories.

Trajectory plots put each child table's numeric columns over time since the patient's first
row: the holdout patients as a median and a 10-90 % band per time bin (no single real patient
is drawn, so the page can travel with the synthetic tables), the synthetic patients as 20
individual trajectories over their own band.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from jinja2 import Environment, FileSystemLoader

from clinisynth.audit.linked import counts, numeric_columns
from clinisynth.audit.plots import new_figure, png_b64
from clinisynth.schema.links import ChildLink, LinkSchema

TEMPLATES = Path(__file__).parent / "templates"
LINES = 20
MAX_PLOTS = 8
BINS = 8


def render_linked_html(report: Mapping[str, Any], holdout: Mapping[str, pd.DataFrame],
                       synthetic: Mapping[str, pd.DataFrame], links: LinkSchema,
                       seed: int = 0) -> str:
    rng = np.random.default_rng(seed)
    children = []
    for link in links.children:
        plots = [("children per patient", png_b64(_counts_figure(holdout, synthetic, links,
                                                                 link)))]
        if link.order:
            for col in numeric_columns(holdout[link.table], link.structural())[:MAX_PLOTS]:
                fig = _trajectory_figure(holdout[link.table], synthetic[link.table], link,
                                         col, rng)
                plots.append((col, png_b64(fig)))
        children.append({"link": link, "structure": report["structure"][link.table],
                         "dynamics": report["dynamics"][link.table], "plots": plots})
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True)
    return env.get_template("linked.html.j2").render(
        report=report, links=links, children=children, fmt=_fmt)


def _fmt(value: Any) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def _counts_figure(holdout: Mapping[str, pd.DataFrame], synthetic: Mapping[str, pd.DataFrame],
                   links: LinkSchema, link: ChildLink) -> Any:
    real, fake = counts(holdout, links, link), counts(synthetic, links, link)
    top = int(max([0, *real.tolist(), *fake.tolist()]))
    edges = np.arange(-0.5, top + 1.5)
    fig = new_figure(6.4, 2.6)
    ax = fig.add_subplot()
    ax.hist(real, bins=edges, density=True, alpha=0.55, label="holdout")
    ax.hist(fake, bins=edges, density=True, alpha=0.55, label="synthetic")
    ax.set_xlabel(f"{link.table} rows per patient")
    ax.legend(frameon=False, fontsize=8)
    return fig


def _since_first(child: pd.DataFrame, link: ChildLink) -> pd.Series:
    order = pd.to_numeric(child[link.order], errors="coerce")
    return order - order.groupby(child[link.key]).transform("min")


def _band(t: np.ndarray, y: np.ndarray, edges: np.ndarray) -> tuple[np.ndarray, ...]:
    mids, lo, mid, hi = [], [], [], []
    for a, b in zip(edges[:-1], edges[1:], strict=True):
        inside = (t >= a) & (t <= b) & np.isfinite(y)
        if inside.sum() >= 5:
            q = np.quantile(y[inside], [0.1, 0.5, 0.9])
            mids.append((a + b) / 2)
            lo.append(q[0])
            mid.append(q[1])
            hi.append(q[2])
    return tuple(np.array(v) for v in (mids, lo, mid, hi))


def _trajectory_figure(real: pd.DataFrame, fake: pd.DataFrame, link: ChildLink, column: str,
                       rng: np.random.Generator) -> Any:
    t_real = _since_first(real, link).to_numpy(dtype=float)
    t_fake = _since_first(fake, link).to_numpy(dtype=float)
    y_real = pd.to_numeric(real[column], errors="coerce").to_numpy(dtype=float)
    y_fake = pd.to_numeric(fake[column], errors="coerce").to_numpy(dtype=float)
    finite = np.concatenate([t_real[np.isfinite(t_real)], t_fake[np.isfinite(t_fake)]])
    top = float(np.quantile(finite, 0.95)) if len(finite) else 1.0
    edges = np.linspace(0, max(top, 1e-9), BINS + 1)
    ys = np.concatenate([y_real[np.isfinite(y_real)], y_fake[np.isfinite(y_fake)]])
    limits = np.quantile(ys, [0.01, 0.99]) if len(ys) else (0.0, 1.0)
    fig = new_figure(6.4, 2.6)
    left, right = fig.subplots(1, 2, sharey=True)
    for ax, t, y, title in ((left, t_real, y_real, "holdout (median, 10-90 %)"),
                            (right, t_fake, y_fake, f"synthetic ({LINES} patients)")):
        mids, lo, mid, hi = _band(t, y, edges)
        if len(mids):
            ax.fill_between(mids, lo, hi, alpha=0.25, color="C0")
            ax.plot(mids, mid, color="C0", lw=2)
        ax.set_title(title, fontsize=9)
        ax.set_xlim(0, edges[-1])
        ax.set_ylim(*limits)
        ax.set_xlabel(f"{link.order} since first", fontsize=8)
    keys = fake[link.key].drop_duplicates().to_numpy()
    for key in rng.choice(keys, size=min(LINES, len(keys)), replace=False):
        rows = (fake[link.key] == key).to_numpy()
        right.plot(t_fake[rows], y_fake[rows], color="C1", lw=0.8, alpha=0.7, marker=".",
                   markersize=3)
    left.set_ylabel(column, fontsize=8)
    return fig
