"""Report sections about the hybrid itself: learned weights, reward trace, calibration effect.

These live beside the CLI, not in the audit: the audit scores any pair of tables and never
imports the synthesizer; the sections are handed to the report as extra sections.
"""

from __future__ import annotations

import html
from typing import Any

import numpy as np

from clinisynth.audit.plots import new_figure, png_b64
from clinisynth.synthesizer import HybridSynthesizer


def weight_sections(syn: HybridSynthesizer) -> list[dict[str, str]]:
    """A bar chart of the weights used and, when learned, the reward trace of the search."""
    sections = []
    fig = new_figure(6.0, 2.8)
    ax = fig.add_subplot(1, 1, 1)
    names = list(syn.search_.weights) if syn.search_ else list(syn.weights_)
    used = [syn.weights_.get(n, 0.0) for n in names]
    ax.bar(names, used, color="#1f77b4", label="used")
    if syn.search_:
        ax.plot(names, [syn.search_.weights[n] for n in names], "o", color="#d62728",
                label="policy mean")
        ax.legend(frameon=False)
    ax.set_ylabel("weight")
    ax.set_title("generator weights" + (" (learned)" if syn.search_ else " (given)"))
    sections.append({"title": "Generator weights", "image_png_b64": png_b64(fig)})
    if syn.search_:
        result = syn.search_
        rewards = np.array(result.rewards)
        fig = new_figure(6.0, 2.8)
        ax = fig.add_subplot(1, 1, 1)
        ax.plot(np.arange(1, len(rewards) + 1), rewards, ".", color="#7f7f7f", label="episode")
        window = min(6, len(rewards))
        smooth = np.convolve(rewards, np.ones(window) / window, mode="valid")
        ax.plot(np.arange(window, len(rewards) + 1), smooth, color="#1f77b4",
                label=f"moving mean ({window})")
        ax.set_xlabel("episode")
        ax.set_ylabel("reward")
        ax.set_title(f"weight search: {len(rewards)} episodes in {result.seconds:.1f} s "
                     f"(stopped by {result.stopped_by})")
        ax.legend(frameon=False)
        sections.append({"title": "Weight search reward trace", "image_png_b64": png_b64(fig)})
    return sections


def calibration_section(before: dict[str, float], after: dict[str, float],
                        steps: list[str]) -> dict[str, str]:
    """A table of fidelity scores before and after the calibration chain."""
    rows = []
    for key, label, better in [("ks_mean", "mean KS (0 to 1)", "lower"),
                               ("wasserstein_mean", "mean Wasserstein (0 to 1)", "lower"),
                               ("pair_trend", "pair trend (0 to 1)", "higher"),
                               ("detection_auc", "detection AUC (0.5 best)", "closer to 0.5")]:
        rows.append(f"<tr><td>{html.escape(label)}</td><td>{_fmt(before.get(key))}</td>"
                    f"<td>{_fmt(after.get(key))}</td><td>{better} is better</td></tr>")
    chain = " → ".join(steps) if steps else "none"
    body = (f"<p>Calibration chain: <b>{html.escape(chain)}</b>. Same generated rows, decoded "
            "without and with calibration, scored against the training rows.</p>"
            "<table><thead><tr><th>score</th><th>before</th><th>after</th><th>direction</th>"
            "</tr></thead><tbody>" + "".join(rows) + "</tbody></table>")
    return {"title": "Calibration: before and after", "html": body}


def guard_section(report: Any, guard: Any = None) -> dict[str, str]:
    rules = ", ".join(f"{html.escape(str(rule))}: {count}"
                      for rule, count in sorted(report.by_rule.items())) or "none"
    if guard is not None and guard.singling_out_active:
        qi = ", ".join(html.escape(str(c)) for c in guard.qi_)
        single = (f"<b>singling_out</b> refuses a row that matches a training patient on the "
                  f"quasi-identifiers ({qi}) when fewer than {guard.k_} patients share that "
                  "combination, and is close to that patient on the other columns")
    else:
        single = ("<b>singling_out</b> is off: the schema declares no quasi-identifier "
                  "(mark columns an attacker could know with role quasi_identifier)")
    if guard is None:
        distinct = "distinguishable"
    elif guard.share_radius > 0:
        distinct = (f"distinguishable: fewer than {guard.min_shared} training rows lie within "
                    f"{guard.share_radius:g} × the threshold of it, itself included")
    else:
        distinct = f"distinguishable: held by fewer than {guard.min_shared} training rows"
    text = (f"The privacy guard has two rules. {single}. <b>distance</b> refuses a row when one "
            "of its nearest training rows is closer than real patients typically are to each "
            f"other (threshold {report.threshold:.3f}) and that row is {distinct}. "
            "Refused draws are replaced, first from the mixture, then from the generators that "
            "do not resample patients; a row still refused after that stops the run, so none "
            f"is ever written. Refused and replaced: <b>{report.refused}</b> draws in "
            f"{report.rounds} round(s) (by rule: {rules}); replaced by the last-resort "
            f"generators: <b>{report.fallback}</b>.")
    return {"title": "Privacy guard", "html": f"<p>{text}</p>"}


def roles_section(roles: dict[str, Any]) -> dict[str, str] | None:
    """Which columns were identifiers, dates or free text, and what was done with them."""
    what = {"identifier": "regenerated as fresh values of the real shape (never copied)",
            "datetime": "modelled as numbers and written back in the input's format",
            "text": "free text, not modelled, written as missing (never copied)"}
    items = [f"<li><b>{role}</b>: {html.escape(', '.join(map(str, roles[role])))}: {how}</li>"
             for role, how in what.items() if roles.get(role)]
    if not items:
        return None
    pairs = roles.get("ordered_date_pairs") or {}
    if pairs:
        kept = ", ".join(f"{html.escape(str(a))} ≤ {html.escape(str(b))}"
                         for b, a in pairs.items())
        items.append(f"<li>date order kept by construction: {kept}</li>")
    body = ("<p>These columns are left out of the audit's scores (identifiers, text) or scored "
            "as numbers (dates).</p><ul>" + "".join(items) + "</ul>")
    return {"title": "Column roles", "html": body}


def _fmt(value: float | None) -> str:
    return "–" if value is None or not np.isfinite(value) else f"{value:.3f}"


def protection_section(report: dict[str, Any], k: int, smoothed: bool = False
                       ) -> dict[str, str]:
    """How many categories each column pooled or folded, and each protected range (the bounds
    are values at least k patients lie at or beyond, so they expose no one); ``smoothed``: the
    calibration aimed at the values with the rare ones kernel-smoothed."""
    rows = []
    for name, what in report.items():
        if "range" in what:
            lo, hi = what["range"]
            text = f"values from {html.escape(str(lo))} to {html.escape(str(hi))}"
        else:
            how = "pooled into one category" if "pool" in what else "folded into the nearest"
            text = f"{what['kept']} categories kept, the others {how}"
        rows.append(f"<tr><td>{html.escape(str(name))}</td><td>{text}</td></tr>")
    body = (f"<p>No value that fewer than {k} training patients hold reached the model: rare "
            "categories were pooled (text) or folded into the nearest kept code (numbers), "
            f"and each numeric column's ends are values at least {k} patients lie at or beyond "
            "(the audit above scores the synthetic rows against the real, unprotected ones). "
            + (f"The calibration aimed at each class's values with those fewer than {k} "
               "patients hold spread by a kernel, so synthetic values follow the population's "
               "spread there rather than sitting beside a particular patient's value. "
               if smoothed else "")
            + "Columns not listed needed nothing.</p><table><tr><th>column</th><th>protection"
            "</th></tr>" + "".join(rows) + "</table>")
    return {"title": "Value protection", "html": body}


def synthesizer_flags(syn: HybridSynthesizer) -> list[dict[str, str]]:
    """Warnings about how the hybrid was run that the audit of its rows cannot see."""
    flags = []
    if syn.guard_ is None:
        flags.append({"key": "privacy_guard", "message": (
            "privacy guard off (privacy_guard=False): no synthetic row was checked against the "
            "training patients before it was written")})
    if syn.protect_ is None:
        flags.append({"key": "protection", "message": (
            "value protection off (protect=False): rare categories and extreme values of the "
            "training patients were modelled and may be shown as they are")})
    return flags


def dp_section(ledger: dict[str, Any]) -> dict[str, str]:
    """The DP guarantee and the ledger: every mechanism, what it measured, its noise and cost;
    and what the guarantee does not cover."""
    rows = "".join(
        f"<tr><td>{html.escape(e['step'])}</td><td>{html.escape(e['mechanism'])}</td>"
        f"<td>{html.escape(e['measured'])}</td><td>{e['scale']:.3g}</td><td>{e['rho']:.3g}</td>"
        f"<td>{e['delta']:.2g}</td></tr>" for e in ledger["entries"])
    return {"title": "Differential privacy", "html": (
        f"<p>Fitted with (ε = {ledger['epsilon']:g}, δ = {ledger['delta']:g})-differential "
        "privacy per patient: every read of the training rows was charged to one budget "
        f"(accountant: {html.escape(ledger['accountant'])}). Spent: ε "
        f"{ledger['epsilon_spent']:.3g} at δ {ledger['delta_spent']:.2g} (ρ "
        f"{ledger['rho_spent']:.4g} of {ledger['rho_budget']:.4g}).</p>"
        "<p>Not covered by ε: the schema (column names, kinds and dtypes, and any range or "
        "categories declared public), and this audit itself, which reads the training and "
        "holdout rows: its risk figures are an internal check of the released rows, not part "
        "of the guarantee. There is no privacy guard in DP mode: the guarantee replaces it.</p>"
        "<table><tr><th>step</th><th>mechanism</th><th>measured</th>"
        "<th>noise (σ, or ε of the exponential mechanism)</th><th>ρ</th><th>δ</th></tr>"
        f"{rows}</table>")}
