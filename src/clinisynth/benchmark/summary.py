"""Benchmark outputs: results.csv, scenarios.csv, summary.md and the plots.

summary.md gives, per table, mean ± sd over seeds per synthesizer for the audit's headline
metrics (fidelity, utility, privacy) and the cost (fit and sample seconds, peak memory); each
column states its direction, and the best mean per column is in bold. Directions come from
:data:`clinisynth.audit.DIRECTIONS` (``key -> (range text, direction text)``); a direction text
saying "higher" or "lower" picks the max or min, one naming a number ("closer to 0.5") picks
the mean nearest it, anything else bolds nothing.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.audit import DIRECTIONS
from clinisynth.audit.report import GROUPS as AUDIT_GROUPS
from clinisynth.io import atomic_path, write_table, write_text_atomic

GROUPS: dict[str, tuple[str, ...]] = {
    **AUDIT_GROUPS,
    "Cost": ("fit_seconds", "sample_seconds", "fit_sample_seconds", "peak_rss_mb",
             "rss_delta_mb"),
}
COST_DIRECTIONS: dict[str, tuple[str, str]] = {
    "fit_seconds": ("seconds", "lower is better"),
    "sample_seconds": ("seconds", "lower is better"),
    "fit_sample_seconds": ("seconds", "lower is better"),
    "peak_rss_mb": ("MB, the worker's peak resident memory during fit + sample, including "
                    "its loaded libraries (about 0.5 GB with torch)", "lower is better"),
    "rss_delta_mb": ("MB, that peak minus the resident memory just before fit (memory the "
                     "allocator kept from earlier cells can hide some)", "lower is better"),
}
NOT_METRICS = {"seed", "n_train", "n_holdout", "n_synthetic", "audit_seconds"}
#: the axes of the fidelity-privacy scatter and the utility bars
FIDELITY_KEY, PRIVACY_KEY = "ks_mean", "dcr_share"
TSTR_KEY, TRTR_KEY = "tstr_f1", "trtr_f1"


def load_directions() -> dict[str, tuple[str, str]]:
    """The audit's metric directions plus the cost columns' (empty audit part if unavailable)."""
    return {**{k: (str(v[0]), str(v[1])) for k, v in DIRECTIONS.items()}, **COST_DIRECTIONS}


def parse_direction(text: str) -> tuple[str, float | None] | None:
    """``("max", None)``, ``("min", None)``, ``("target", x)`` or ``None`` (no best)."""
    low = text.lower()
    number = re.search(r"-?\d+(?:\.\d+)?", low)
    if number and any(w in low for w in ("close", "near", "ideal", "target", "best at", "≈")):
        return "target", float(number.group())
    if "higher" in low or "↑" in low or "larger" in low or "more is better" in low:
        return "max", None
    if "lower" in low or "↓" in low or "smaller" in low or "less is better" in low:
        return "min", None
    if number:
        return "target", float(number.group())
    return None


def _arrow(direction: tuple[str, float | None] | None) -> str:
    if direction is None:
        return ""
    kind, value = direction
    if kind == "target" and value is not None:
        return f" →{value:g}"
    return {"max": " ↑", "min": " ↓"}.get(kind, "")


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    mag = abs(value)
    if mag >= 100:
        return f"{value:.0f}"
    if mag >= 10:
        return f"{value:.1f}"
    if mag >= 1:
        return f"{value:.2f}"
    return f"{value:.3f}"


def _best(means: pd.Series, direction: tuple[str, float | None] | None) -> set[Any]:
    vals = means.dropna()
    if direction is None or vals.empty or vals.nunique() == 1:
        return set()
    kind, target = direction
    if kind == "max":
        score = vals
    elif kind == "min":
        score = -vals
    else:
        score = -(vals - float(target)).abs()
    return set(score.index[np.isclose(score, score.max(), rtol=1e-9, atol=1e-12)])


def _ok(records: pd.DataFrame) -> pd.DataFrame:
    ok = records[records["status"] == "ok"].copy()
    if {"fit_seconds", "sample_seconds"} <= set(ok.columns):
        ok["fit_sample_seconds"] = ok["fit_seconds"] + ok["sample_seconds"]
    return ok


def metric_table(ok: pd.DataFrame, keys: Sequence[str], order: Sequence[str],
                 directions: Mapping[str, tuple[str, str]]) -> list[str]:
    """Markdown lines: synthesizer rows × ``keys``, mean ± sd, best mean in bold."""
    keys = [k for k in keys if k in ok.columns]
    if not keys:
        return []
    grouped = ok.groupby("synthesizer")
    means = grouped[keys].mean().reindex(order)
    sds = grouped[keys].std(ddof=1).reindex(order)
    parsed = {k: parse_direction(directions[k][1]) if k in directions else None for k in keys}
    head = "| synthesizer | " + " | ".join(f"{k}{_arrow(parsed[k])}" for k in keys) + " |"
    lines = [head, "|---|" + "---:|" * len(keys)]
    best = {k: _best(means[k], parsed[k]) for k in keys}
    counts = grouped.size().reindex(order).fillna(0).astype(int)
    for name in order:
        cells = []
        for k in keys:
            m, s = means.at[name, k], sds.at[name, k]
            text = _fmt(m) if pd.isna(s) else f"{_fmt(m)} ± {_fmt(s)}"
            cells.append(f"**{text}**" if name in best[k] else text)
        label = name if counts[name] == counts.max() else f"{name} (n={counts[name]})"
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return lines


def direction_legend(keys: Sequence[str], directions: Mapping[str, tuple[str, str]]) -> list[str]:
    lines = ["| column | range | direction |", "|---|---|---|"]
    for k in keys:
        rng, how = directions.get(k, ("", "not stated by the audit; no best marked"))
        lines.append(f"| {k} | {rng} | {how} |")
    return lines


def scenario_tables(scen: pd.DataFrame, table: str, order: Sequence[str]) -> list[str]:
    """Markdown: macro F1 on the holdout per scenario and per scarcity fraction."""
    sub = scen[scen["table"] == table]
    if sub.empty:
        return []
    lines = ["", "#### Training scenarios (macro F1 on the holdout, mean ± sd over seeds; "
             "higher is better)", ""]
    named = ["train-real", "train-synthetic", "train-mixed", "augmentation"]
    lines += ["| synthesizer | " + " | ".join(named) + " |", "|---|" + "---:|" * len(named)]
    for name in order:
        rows = sub[sub["synthesizer"] == name]
        if rows.empty:
            continue
        cells = []
        for sc in named:
            f1 = rows.loc[rows["scenario"] == sc, "f1"]
            cells.append(_mean_sd(f1))
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    curve = sub[sub["scenario"].isin(["scarcity-real", "scarcity-augmented"])]
    fracs = sorted(curve["fraction"].unique())
    lines += ["", "#### Data scarcity: macro F1 with a fraction of the real training rows, "
              "alone and with synthetic rows added", ""]
    lines += ["| training set | " + " | ".join(f"{f:.0%} real" for f in fracs) + " |",
              "|---|" + "---:|" * len(fracs)]
    real = curve[curve["scenario"] == "scarcity-real"].groupby("fraction")["f1"].mean()
    lines.append("| real only | " + " | ".join(_fmt(real.get(f, np.nan)) for f in fracs) + " |")
    for name in order:
        aug = curve[(curve["scenario"] == "scarcity-augmented") & (curve["synthesizer"] == name)]
        if aug.empty:
            continue
        means = aug.groupby("fraction")["f1"].mean()
        cells = []
        for f in fracs:
            m = means.get(f, np.nan)
            gain = m - real.get(f, np.nan)
            cells.append("–" if pd.isna(m) else f"{_fmt(m)} ({gain:+.3f})")
        lines.append(f"| real + {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("In brackets: the change against real only at the same fraction; – where the "
                 "synthesizer could not be fitted on so few rows (the error is in scenarios.csv).")
    return lines


def render_summary(records: pd.DataFrame, scen: pd.DataFrame | None,
                   tables: Sequence[Any], command: str | None = None,
                   directions: Mapping[str, tuple[str, str]] | None = None) -> str:
    """summary.md as text."""
    directions = {**COST_DIRECTIONS, **(directions if directions is not None
                                         else load_directions())}
    ok = _ok(records)
    order = list(dict.fromkeys(records["synthesizer"]))
    seeds = records["seed"].nunique()
    n_ok, n_all = int((records["status"] == "ok").sum()), len(records)
    lines = ["# Benchmark summary", ""]
    if command:
        lines += ["Produced by:", "", "```bash", command, "```", ""]
    lines += [
        f"{len(tables)} table(s) × {len(order)} synthesizer(s) × {seeds} seed(s): "
        f"{n_ok} of {n_all} cells finished.",
        "",
        "Each cell: a stratified 70/30 split by seed; the synthesizer is fitted on the 70 %, "
        "samples as many rows as the 70 % holds, and is audited against the 30 % holdout. "
        "Values are mean ± sd over seeds; the best mean per column is **bold**; arrows give each "
        "column's direction (↑ higher is better, ↓ lower is better, →x closest to x is best); "
        "the legend at the end gives each column's range. Plots: `fidelity_privacy.png`, "
        "`utility.png`" + (", `scarcity_curve.png`" if scen is not None else "") + ".",
        "",
    ]
    failed = records[records["status"] != "ok"]
    if len(failed):
        lines += ["Cells not finished (failed, or not run yet):", ""]
        lines += [f"- {r.table} / {r.synthesizer} / seed {r.seed}: {r.error}"
                  for r in failed.itertuples()]
        lines.append("")
    lines += _timing_overview(ok, order, [t.name for t in tables])
    grouped = {k for keys in GROUPS.values() for k in keys}
    extra = [c for c in ok.columns if c not in NOT_METRICS and c not in grouped
             and pd.api.types.is_numeric_dtype(ok[c])]
    groups = {**GROUPS, **({"Other": tuple(extra)} if extra else {})}
    shown: list[str] = []
    for spec in tables:
        tab = ok[ok["table"] == spec.name]
        lines += [f"## {spec.name} (target `{spec.target}`)", ""]
        if tab.empty:
            lines += ["No finished cells.", ""]
            continue
        names = [n for n in order if n in set(tab["synthesizer"])]
        for group, keys in groups.items():
            body = metric_table(tab, keys, names, directions)
            if body:
                lines += [f"#### {group}", "", *body, ""]
                shown += [k for k in keys if k in tab.columns and k not in shown]
        if scen is not None and not scen.empty:
            lines += scenario_tables(scen, spec.name, names) + [""]
    lines += ["## Columns", "", *direction_legend(shown, directions), ""]
    return "\n".join(lines)


def _timing_overview(ok: pd.DataFrame, order: Sequence[str], table_order: Sequence[str]
                     ) -> list[str]:
    """Fit + sample seconds per synthesizer and table, side by side, from the same run."""
    if ok.empty or "fit_sample_seconds" not in ok.columns:
        return []
    means = ok.pivot_table(index="synthesizer", columns="table", values="fit_sample_seconds",
                           aggfunc="mean").reindex([n for n in order if n in set(ok.synthesizer)])
    means = means[[t for t in table_order if t in means.columns]]
    lines = ["## Time to fit + sample (seconds, mean over seeds, same run)", "",
             "| synthesizer | " + " | ".join(means.columns) + " |",
             "|---|" + "---:|" * len(means.columns)]
    for name, row in means.iterrows():
        lines.append(f"| {name} | " + " | ".join(_fmt(v) for v in row) + " |")
    return lines + [""]


# -- plots ---------------------------------------------------------------------------------------
def _save_fig(fig: Any, path: Path) -> None:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=120, bbox_inches="tight")


def _grid(n: int) -> tuple[Any, list[Any]]:
    import matplotlib  # lazy: heavy: only when plots are drawn

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # lazy: heavy: only when plots are drawn

    cols = min(n, 2)
    rows = math.ceil(n / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(6.2 * cols, 4.4 * rows), squeeze=False,
                             layout="constrained")
    flat = list(axes.ravel())
    for ax in flat[n:]:
        ax.set_visible(False)
    return fig, flat[:n]


def plot_fidelity_privacy(ok: pd.DataFrame, tables: Sequence[Any], path: Path,
                          directions: Mapping[str, tuple[str, str]]) -> bool:
    if ok.empty or not {FIDELITY_KEY, PRIVACY_KEY} <= set(ok.columns):
        return False
    import matplotlib.pyplot as plt  # lazy: heavy: only when plots are drawn

    fig, axes = _grid(len(tables))
    colors = _colors(ok)
    for ax, spec in zip(axes, tables, strict=True):
        tab = ok[ok["table"] == spec.name]
        for name, rows in tab.groupby("synthesizer", sort=False):
            x, y = rows[FIDELITY_KEY], rows[PRIVACY_KEY]
            ax.errorbar(x.mean(), y.mean(), xerr=_sd(x), yerr=_sd(y), fmt="o", ms=7,
                        capsize=3, color=colors[name], label=name)
            ax.scatter(x, y, s=10, alpha=0.35, color=colors[name])
        ax.set_title(spec.name)
        ax.set_xlabel(f"{FIDELITY_KEY} ({_dir_text(FIDELITY_KEY, directions)})")
        ax.set_ylabel(f"{PRIVACY_KEY} ({_dir_text(PRIVACY_KEY, directions)})")
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Fidelity against privacy (mean ± sd over seeds; small dots: single seeds)")
    _save_fig(fig, path)
    plt.close(fig)
    return True


def plot_utility(ok: pd.DataFrame, tables: Sequence[Any], path: Path) -> bool:
    if ok.empty or not {TSTR_KEY, TRTR_KEY} <= set(ok.columns):
        return False
    import matplotlib.pyplot as plt  # lazy: heavy: only when plots are drawn

    fig, axes = _grid(len(tables))
    colors = _colors(ok)
    for ax, spec in zip(axes, tables, strict=True):
        tab = ok[ok["table"] == spec.name]
        names = list(dict.fromkeys(tab["synthesizer"]))
        labels = ["real (TRTR)", *names]
        means = [tab[TRTR_KEY].mean(), *[tab.loc[tab.synthesizer == n, TSTR_KEY].mean()
                                         for n in names]]
        sds = [_sd(tab.groupby("seed")[TRTR_KEY].first()),  # one TRTR per seed's split
               *[_sd(tab.loc[tab.synthesizer == n, TSTR_KEY]) for n in names]]
        ax.bar(range(len(labels)), means, yerr=sds, capsize=3,
               color=["0.55", *[colors[n] for n in names]])
        ax.axhline(means[0], color="0.3", ls="--", lw=1)
        ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right", fontsize=8)
        ax.set_ylabel(f"macro F1 on holdout ({TSTR_KEY} / {TRTR_KEY})")
        ax.set_ylim(0, 1.05)
        ax.set_title(spec.name)
    fig.suptitle("Train on synthetic, test on real (TSTR) against train on real (TRTR)")
    _save_fig(fig, path)
    plt.close(fig)
    return True


def plot_scarcity(scen: pd.DataFrame, tables: Sequence[Any], path: Path) -> bool:
    curve = scen[scen["scenario"].isin(["scarcity-real", "scarcity-augmented"])] \
        if not scen.empty else scen
    if curve.empty:
        return False
    import matplotlib.pyplot as plt  # lazy: heavy: only when plots are drawn

    fig, axes = _grid(len(tables))
    colors = _colors(curve)
    for ax, spec in zip(axes, tables, strict=True):
        tab = curve[curve["table"] == spec.name]
        real = tab[tab["scenario"] == "scarcity-real"].groupby("fraction")["f1"]
        ax.errorbar(real.mean().index * 100, real.mean(), yerr=real.std().fillna(0), color="k",
                    lw=2, marker="s", capsize=3, label="real only")
        aug = tab[tab["scenario"] == "scarcity-augmented"]
        for name, rows in aug.groupby("synthesizer", sort=False):
            g = rows.groupby("fraction")["f1"]
            ax.errorbar(g.mean().index * 100, g.mean(), yerr=g.std().fillna(0), marker="o",
                        capsize=2, color=colors[name], label=f"real + {name}", alpha=0.85)
        ax.set_xscale("log")
        ticks = sorted(tab["fraction"].unique() * 100)
        ax.set_xticks(ticks, [f"{t:g}%" for t in ticks])
        ax.set_xlabel("share of the real training rows used")
        ax.set_ylabel("macro F1 on holdout")
        ax.set_title(spec.name)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle("Data scarcity: does adding synthetic rows help? (mean ± sd over seeds)")
    _save_fig(fig, path)
    plt.close(fig)
    return True


def _mean_sd(values: pd.Series) -> str:
    values = values.dropna()
    if values.empty:
        return "–"
    if len(values) == 1:
        return _fmt(float(values.iloc[0]))
    return f"{_fmt(values.mean())} ± {_fmt(values.std(ddof=1))}"


def _sd(values: pd.Series) -> float:
    return float(values.std(ddof=1)) if values.count() > 1 else 0.0


def _colors(frame: pd.DataFrame) -> dict[str, Any]:
    import matplotlib  # lazy: heavy: only when plots are drawn

    cmap = matplotlib.colormaps["tab10"]
    names = list(dict.fromkeys(frame["synthesizer"]))
    return {n: cmap(i % 10) for i, n in enumerate(names)}


def _dir_text(key: str, directions: Mapping[str, tuple[str, str]]) -> str:
    return directions.get(key, ("", "direction not stated"))[1]


def write_outputs(out_dir: Path, records: pd.DataFrame, scen: pd.DataFrame | None,
                  tables: Sequence[Any], command: str | None = None) -> None:
    """Write results.csv, scenarios.csv (with scenarios), summary.md and the plots."""
    out_dir = Path(out_dir)
    directions = load_directions()
    write_table(records, out_dir / "results.csv")
    if scen is not None:
        write_table(scen, out_dir / "scenarios.csv")
    ok = _ok(records)
    plot_fidelity_privacy(ok, tables, out_dir / "fidelity_privacy.png", directions)
    plot_utility(ok, tables, out_dir / "utility.png")
    if scen is not None and not scen.empty:
        plot_scarcity(scen, tables, out_dir / "scarcity_curve.png")
    write_text_atomic(out_dir / "summary.md",
                      render_summary(records, scen, tables, command, directions))
