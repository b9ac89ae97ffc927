"""The HTML audit report: one self-contained file, figures embedded as base64 PNG.

Figures are drawn by :mod:`clinisynth.audit.plots` with matplotlib's object API on the Agg canvas
(no pyplot, no global state); its ``png_b64`` turns any figure into the string the template
embeds, so other sections (weights, reward traces) can reuse them.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, FileSystemLoader

from clinisynth.audit.plots import (
    categorical_overlay,
    correlation_figure,
    dcr_figure,
    fmt,
    numeric_overlay,
    png_b64,
)
from clinisynth.audit.result import DIRECTIONS, HEADLINE_KEYS, LABELS, AuditResult, describe
from clinisynth.audit.risk import verdict
from clinisynth.audit.rules import RuleViolations
from clinisynth.audit.survival import survival_section
from clinisynth.audit.values import ValueExposure
from clinisynth.errors import ClinisynthError
from clinisynth.io import atomic_path
from clinisynth.schema import DEFAULT_K

TEMPLATES = Path(__file__).parent / "templates"
GROUPS = {
    "Fidelity": ("ks_mean", "wasserstein_mean", "tv_mean", "pair_trend",
                 "contingency_similarity", "corr_frobenius", "detection_auc"),
    "Utility": ("trtr_accuracy", "tstr_accuracy", "trtr_f1", "tstr_f1", "trtr_auc", "tstr_auc",
                "tstr_trtr_f1_ratio"),
    "Privacy": ("dcr_median", "dcr_share", "exact_copies", "holdout_exact_copies", "nnaa_train",
                "nnaa_holdout", "privacy_loss", "mia_auc"),
    "Risk": ("calibrated_dcr", "singling_out_risk", "linkability_risk", "inference_risk"),
}


# -- page --------------------------------------------------------------------------------------
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


def values_section(values: ValueExposure) -> dict[str, str]:
    """The values a synthetic table shows that fewer than ``k`` training patients hold: per
    column, the share of rows carrying one, and which ends equal one or pass the range ``k``
    patients span (no value itself is shown)."""
    rows = []
    for name, share in values.rare_rows.items():
        if share > 0:
            rows.append((name, f"{share:.1%}", "", ""))
    for name in sorted({*values.rare_extremes, *values.beyond}):
        rows.append((name, "", ", ".join(values.rare_extremes.get(name, [])) or "none",
                     ", ".join(values.beyond.get(name, [])) or "none"))
    body = "".join(f"<tr><td>{html.escape(n)}</td><td>{a}</td><td>{b}</td><td>{c}</td></tr>"
                   for n, a, b, c in rows)
    verdict = ("No synthetic value is one that fewer than k training patients hold, and no end "
               "passes the range k patients span." if not values.columns_at_risk() else
               "Some values are shown that fewer than k training patients hold (see the "
               "warnings).")
    return {"title": "Values shown", "html": (
        f"<p>k = {values.k}. {verdict} Columns not listed show none.</p>"
        "<table><tr><th>column</th><th>rows with a rare category</th>"
        "<th>ends equal to a rare value</th><th>ends beyond the k range</th></tr>"
        f"{body}</table>")}


def rules_section(rules: RuleViolations) -> dict[str, str]:
    """Each rule with the share of training, holdout and synthetic rows breaking it."""
    body = "".join(
        f"<tr><td>{html.escape(r['rule'])}</td><td>{r['train']:.1%}</td>"
        f"<td>{r['holdout']:.1%}</td><td>{r['synthetic']:.1%}</td></tr>" for r in rules.rules)
    broken = rules.broken()
    verdict = (f"{len(broken)} rule(s) that every real row keeps are broken by synthetic rows."
               if broken else "No synthetic row breaks a rule that every real row keeps.")
    where = ("the schema's rules" if rules.source == "schema" else
             "rules discovered on the training rows (true on every one)")
    return {"title": "Rules", "html": (
        f"<p>{verdict} Rules: {where}.</p>" + (
            "<table><tr><th>rule</th><th>training rows breaking it</th><th>holdout</th>"
            f"<th>synthetic</th></tr>{body}</table>" if rules.rules else ""))}


def column_figures(result: AuditResult, train: pd.DataFrame,
                   synthetic: pd.DataFrame) -> list[str]:
    """One base64 PNG per column: real (train) against synthetic, per class."""
    target = result.meta.get("target")
    classes = result.meta.get("classes") or []
    k = result.values.k if result.values is not None else DEFAULT_K
    images = []
    for col in result.fidelity.columns:
        name = col.name
        if col.kind in ("continuous", "integer"):
            fig = numeric_overlay(name, train, synthetic, target, classes)
        else:
            fig = categorical_overlay(name, train, synthetic, target, classes, rare_below=k)
        images.append(png_b64(fig, dpi=110))
    return images


def render_html(result: AuditResult, train: pd.DataFrame | None = None,
                synthetic: pd.DataFrame | None = None,
                extra_sections: Sequence[dict[str, str]] | None = None) -> str:
    """The report as one HTML string."""
    sections = check_sections(extra_sections)
    for pair in reversed(result.survival_pairs or ([result.survival] if result.survival
                                                   else [])):
        sections = survival_section(pair) + sections
    if result.rules is not None:
        sections = [rules_section(result.rules)] + sections
    if result.values is not None:
        sections = [values_section(result.values)] + sections
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
