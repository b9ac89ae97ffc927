"""summary.md: mean ± sd per synthesizer, each column's direction, the best mean in bold."""

from __future__ import annotations

import pandas as pd
import pytest

from clinisynth.benchmark import TableSpec
from clinisynth.benchmark.summary import parse_direction, render_summary

DIRS = {
    "ks_mean": ("0 to 1", "lower"),
    "tstr_f1": ("0 to 1", "higher"),
    "trtr_f1": ("0 to 1", "higher"),
    "dcr_share": ("0 to 1, 0.5 = no memorisation", "closer to 0.5"),
    "holdout_exact_copies": ("count", "baseline"),
}


@pytest.mark.parametrize(("text", "parsed"), [
    ("higher", ("max", None)), ("lower", ("min", None)), ("lower is better", ("min", None)),
    ("closer to 0.5", ("target", 0.5)), ("baseline", None), ("", None),
])
def test_parse_direction(text, parsed):
    assert parse_direction(text) == parsed


def records() -> pd.DataFrame:
    rows = []
    values = {  # synthesizer -> per-seed (ks_mean, tstr_f1, dcr_share, fit seconds)
        "hybrid": [(0.10, 0.80, 0.52, 2.0), (0.12, 0.84, 0.54, 4.0)],
        "ctgan": [(0.30, 0.60, 0.49, 50.0), (0.20, 0.70, 0.51, 70.0)],
        "smote": [(0.05, 0.82, 0.90, 1.0), (0.07, 0.80, 0.80, 1.0)],
    }
    for name, seeds in values.items():
        for seed, (ks, f1, dcr, fit) in enumerate(seeds):
            rows.append({"table": "t", "synthesizer": name, "seed": seed, "status": "ok",
                         "error": "", "ks_mean": ks, "tstr_f1": f1, "trtr_f1": 0.85,
                         "dcr_share": dcr, "holdout_exact_copies": 3.0 + seed,
                         "fit_seconds": fit, "sample_seconds": 0.5, "peak_rss_mb": 500.0})
    rows.append({"table": "t", "synthesizer": "tvae", "seed": 0, "status": "error",
                 "error": "RuntimeError: boom"})
    return pd.DataFrame(rows)


def row_of(text: str, header: str, name: str) -> dict[str, str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.startswith("| synthesizer") and header
                 in ln)
    cols = [c.strip() for c in lines[start].strip("|").split("|")]
    for ln in lines[start + 2:]:
        if not ln.startswith("|"):
            break
        cells = [c.strip() for c in ln.strip("|").split("|")]
        if cells[0] == name:
            return dict(zip(cols, cells, strict=True))
    raise AssertionError(f"no row {name} under {header}")


def test_summary_bolds_best_by_direction_and_states_it():
    text = render_summary(records(), None, [TableSpec(name="t", target="y", path="t.csv")],
                          command="clinisynth benchmark --data t.csv", directions=DIRS)
    assert "clinisynth benchmark --data t.csv" in text
    assert "6 of 7 cells finished" in text and "- t / tvae / seed 0: RuntimeError: boom" in text
    fid = "ks_mean ↓"
    assert row_of(text, fid, "smote")[fid] == "**0.060 ± 0.014**"  # lowest mean
    assert row_of(text, fid, "hybrid")[fid] == "0.110 ± 0.014"
    uti = "tstr_f1 ↑"
    assert row_of(text, uti, "hybrid")[uti].startswith("**0.820")  # highest mean
    assert row_of(text, uti, "smote")[uti] == "0.810 ± 0.014"
    assert not row_of(text, uti, "hybrid")["trtr_f1 ↑"].startswith("**")  # all equal: no best
    pri = "dcr_share →0.5"
    assert row_of(text, pri, "ctgan")[pri].startswith("**0.500")  # nearest 0.5
    assert not row_of(text, pri, "smote")[pri].startswith("**")
    base = "holdout_exact_copies"
    assert not any(row_of(text, pri, n)[base].startswith("**") for n in ("hybrid", "smote"))
    cost = "fit_sample_seconds ↓"
    assert row_of(text, cost, "smote")[cost] == "**1.50 ± 0.000**"
    assert "| dcr_share | 0 to 1, 0.5 = no memorisation | closer to 0.5 |" in text
    assert "| fit_seconds | seconds | lower is better |" in text
    timing = text.split("## Time to fit + sample")[1].split("##")[0]
    assert "| ctgan | 60.5 |" in timing and "| hybrid | 3.50 |" in timing


def test_summary_has_the_risk_columns_with_the_audits_directions():
    from clinisynth.audit import DIRECTIONS

    frame = records()
    ok = frame["status"] == "ok"
    frame.loc[ok, "singling_out_risk"] = [0.2, 0.1, 0.0, 0.05, 0.3, 0.4]
    frame.loc[ok, "calibrated_dcr"] = [0.02, 0.03, 0.10, 0.08, 0.90, 0.80]
    text = render_summary(frame, None, [TableSpec(name="t", target="y", path="t.csv")],
                          directions={**DIRS, **DIRECTIONS})
    assert "#### Risk" in text
    so, cal = "singling_out_risk ↓", "calibrated_dcr →0.02"
    assert row_of(text, so, "ctgan")[so].startswith("**0.025")  # lowest risk
    assert row_of(text, so, "smote")[cal] == "0.850 ± 0.071"
    assert row_of(text, so, "hybrid")[cal].startswith("**0.025")  # nearest 0.02
