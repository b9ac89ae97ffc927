"""`clinisynth evaluate` and the HTML report, including a look at it in headless Chromium."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from clinisynth.audit.plots import new_figure, png_b64
from clinisynth.audit.report import check_sections, write_html_report
from clinisynth.cli import app
from clinisynth.errors import ClinisynthError

runner = CliRunner()
IMG = re.compile(r'<img [^>]*src="data:image/png;base64,([A-Za-z0-9+/=]+)"')


@pytest.fixture(scope="module")
def csvs(tmp_path_factory, bc_70, bc_gmm):
    train, holdout, _ = bc_70
    root = tmp_path_factory.mktemp("evaluate")
    paths = {name: root / f"{name}.csv" for name in ("train", "holdout", "synthetic")}
    for name, df in zip(paths, (train, holdout, bc_gmm), strict=True):
        df.to_csv(paths[name], index=False)
    return paths


def evaluate(paths, *extra):
    args = ["evaluate", "--train", str(paths["train"]), "--holdout", str(paths["holdout"]),
            "--synthetic", str(paths["synthetic"]), "--target", "target", *extra]
    return runner.invoke(app, args)


@pytest.mark.parametrize(("extra", "message"), [
    (("--json", "out.txt"), "--json 'out.txt' should end in .json"),
    (("--privacy-sample", "2"), "privacy_sample must be at least 10"),
    (("--secret", "nope"), "secrets: column 'nope' is not in the table"),
    (("--quasi-identifier", "nope"), "quasi_identifiers: column 'nope' is not in the table"),
    (("--n-attacks", "3"), "n_attacks must be at least 10"),
])
def test_evaluate_bad_options_exit_2_with_one_line(csvs, extra, message):
    res = evaluate(csvs, *extra)
    assert res.exit_code == 2
    assert message in res.output
    assert res.output.strip().count("\n") == 0


def test_evaluate_schema_must_name_the_same_target(csvs, bc_70, tmp_path):
    from clinisynth.schema import infer_schema

    train, _, target = bc_70
    schema = tmp_path / "schema.json"
    infer_schema(train, target).to_json(schema)
    res = evaluate(csvs, "--schema", str(schema), "--target", "mean radius")
    assert res.exit_code == 2
    assert "target 'mean radius' differs from the schema's 'target'" in res.output


def test_evaluate_names_a_column_missing_from_synthetic(csvs, tmp_path):
    import pandas as pd

    bad = tmp_path / "bad.csv"
    pd.read_csv(csvs["synthetic"]).drop(columns="mean area").to_csv(bad, index=False)
    res = evaluate({**csvs, "synthetic": bad})
    assert res.exit_code == 2
    assert "column 'mean area' is in train but not in synthetic" in res.output


def test_report_extra_sections_without_frames(mixed_table, tmp_path):
    from clinisynth.audit import audit

    train, holdout = mixed_table.iloc[:200], mixed_table.iloc[200:]
    result = audit(train, holdout, train.sample(100, random_state=0), "outcome",
                   models=("logistic_regression",), privacy_sample=100)
    fig = new_figure(3, 2)
    fig.add_subplot().plot([0, 1], [1, 0])
    extra = [{"title": "Learned weights", "html": "<p id='weights'>gmm 1.00</p>"},
             {"title": "Reward trace", "image_png_b64": png_b64(fig)}]
    path = write_html_report(result, tmp_path / "r" / "report.html", extra_sections=extra)
    text = path.read_text()
    # no frames given: heatmaps, DCR histogram and the extra image; overlays explained
    assert len(IMG.findall(text)) == 2 + 1
    assert "pass the train and synthetic tables" in text
    assert "<p id='weights'>gmm 1.00</p>" in text and "Reward trace" in text
    with pytest.raises(ClinisynthError, match="exactly one of 'html' or 'image_png_b64'"):
        check_sections([{"title": "x"}])


def chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def screenshot(browser: str, page: Path, shot: Path, profile: Path) -> np.ndarray:
    """Render ``page`` headless at 1280×4000 and return the screenshot's RGB pixels."""
    from PIL import Image

    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={profile}", "--hide-scrollbars",
           f"--screenshot={shot}", "--window-size=1280,4000", page.as_uri()]
    subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    return np.asarray(Image.open(shot).convert("RGB"))


def test_evaluate_writes_json_and_a_report_that_renders_in_chromium(csvs, tmp_path):
    out, html = tmp_path / "scores.json", tmp_path / "report.html"
    res = evaluate(csvs, "--json", str(out), "--html", str(html), "--quasi-identifier",
                   "mean radius", "--quasi-identifier", "mean texture", "--secret", "mean area",
                   "--n-attacks", "100")
    assert res.exit_code == 0, res.output
    for key in ("singling_out_risk", "linkability_risk", "inference_risk", "calibrated_dcr"):
        assert key in res.output
    assert f"written: {out}" in res.output and f"written: {html}" in res.output
    for key in ("ks_mean", "tstr_trtr_f1_ratio", "dcr_share", "privacy_loss", "mia_auc"):
        assert key in res.output
    data = json.loads(out.read_text())
    assert data["meta"]["rows"]["synthetic"] == 398
    assert data["headline"]["dcr_share"]["direction"] == "closer to 0.5"
    risk = data["risk"]
    assert risk["quasi_identifiers"] == ["mean radius", "mean texture"]
    assert risk["secrets"] == ["target", "mean area"]
    assert set(risk["attacks"]) == {"singling_out_univariate", "singling_out_multivariate",
                                    "linkability", "inference:target", "inference:mean area"}
    link = risk["attacks"]["linkability"]
    assert (link["columns_a"], link["columns_b"], link["attacks"]) == (
        ["mean radius"], ["mean texture"], 100)
    assert link["verdict"] and link["meaning"] and len(link["risk_ci"]) == 2

    text = html.read_text()
    images = IMG.findall(text)
    # 31 column overlays (30 features + target) + correlation heatmaps + DCR histogram
    assert len(images) == 31 + 2
    assert all(base64.b64decode(i).startswith(b"\x89PNG") for i in images)
    for key in ("dcr_share", "tstr_trtr_f1_ratio", "closer to 0.5 is better", "mean radius"):
        assert key in text

    browser = chromium()
    if browser is None:
        if os.environ.get("CI"):
            pytest.fail("CI is set but chromium is not installed (.ci/run installs it)")
        pytest.skip("JSON and HTML checked; chromium not installed, so the page was not "
                    "rendered (apt-get install -y chromium)")
    shot = tmp_path / "shot.png"
    pixels = screenshot(browser, html, shot, tmp_path / "profile")
    assert shot.stat().st_size > 100_000
    assert pixels.shape[:2] == (4000, 1280)
    assert len(np.unique(pixels.reshape(-1, 3), axis=0)) > 1000  # not a blank page
    # the figures were drawn: the plots' red and blue fill large areas of the page
    red = (pixels[..., 0] > 180) & (pixels[..., 1] < 80) & (pixels[..., 2] < 80)
    blue = (pixels[..., 2] > 150) & (pixels[..., 0] < 80)
    assert red.sum() > 2000 and blue.sum() > 2000


def test_report_escapes_markup_in_column_names_and_labels(tmp_path):
    """Column names and class labels come from the user's file: none may run as markup."""
    import pandas as pd

    from clinisynth.audit import audit

    evil_col, evil_label = "<img src=x onerror=alert(1)>", "<script>alert('x')</script>"
    rng = np.random.default_rng(0)
    n = 160
    df = pd.DataFrame({
        evil_col: rng.normal(size=n),
        "age": rng.integers(20, 80, size=n).astype(float),
        "<b>group</b>": rng.choice(["a&b", "<i>c</i>"], size=n),
        "label": rng.choice([evil_label, "ok"], size=n),
    })
    train, holdout = df.iloc[:110].reset_index(drop=True), df.iloc[110:].reset_index(drop=True)
    result = audit(train, holdout, train.sample(110, random_state=1).reset_index(drop=True),
                   "label", models=("logistic_regression",), n_attacks=20,
                   quasi_identifiers=[evil_col, "age"], secrets=["<b>group</b>"])
    path = write_html_report(result, tmp_path / "report.html", train=train,
                             synthetic=train.sample(110, random_state=1))
    text = path.read_text()
    for raw in (evil_col, evil_label, "<b>group</b>", "<i>c</i>", "<script>"):
        assert raw not in text
    assert "&lt;img src=x onerror=alert(1)&gt;" in text
    assert "&lt;script&gt;alert(" in text
    assert "Risk: attacks on the synthetic data" in text and "linkability" in text
