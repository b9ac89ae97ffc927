"""Streaming writes (`TableWriter`), `sample --engine/--address/--workers`, `--threads` and
`sample --condition`: the streamed file equals writing the whole table at once, failures leave
nothing behind, and every engine writes the same rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from clinisynth import HybridSynthesizer
from clinisynth.cli import app
from clinisynth.errors import ClinisynthError
from clinisynth.io import TableWriter, read_table, stable_dtypes, write_table
from clinisynth.reward import RewardWeights
from clinisynth.schema import infer_schema
from conftest import make_mixed_table

runner = CliRunner()
CHUNK = 37  # rows per chunk in these tests: --rows 200 makes 6 chunks


def run(*args):
    return runner.invoke(app, [str(a) for a in args])


def one_line_error(result, *needles: str) -> str:
    assert result.exit_code == 2, result.output
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]
    return lines[0]


def hidden(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.startswith("."))


def summary_rows(stdout: str) -> dict[str, int]:
    """The rows-per-class table of the printed summary."""
    rows = {}
    for line in stdout.splitlines():
        cells = [c.strip() for c in line.strip().strip("│┃").split("│")]
        if len(cells) == 2 and cells[1].isdigit():
            rows[cells[0]] = int(cells[1])
    return rows


def stress_table(n: int = 150) -> pd.DataFrame:
    """The mixed table plus the columns whose dtype a small chunk can change: a pandas
    categorical with a rare level, a mostly-missing text column, a nullable integer."""
    df = make_mixed_table(n, seed=2)
    rng = np.random.default_rng(5)
    df["grade"] = pd.Categorical(rng.choice(["low", "mid", "high", "rare"], size=n,
                                            p=[0.45, 0.3, 0.2, 0.05]))
    df["note"] = np.where(rng.random(n) < 0.9, None, rng.choice(["=SUM(A1)", "ok"], size=n))
    df["visits"] = pd.array(np.where(rng.random(n) < 0.3, None, rng.integers(0, 5, size=n)),
                            dtype="Int64")
    return df


@pytest.fixture(scope="module")
def model(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("stream") / "model"
    syn = HybridSynthesizer(weights="gmm", calibration=["moment"], seed=3)
    syn.fit(stress_table(), "outcome").save(folder)
    return folder


@pytest.fixture
def small_chunks(monkeypatch):
    monkeypatch.setattr("clinisynth.synthesizer.CHUNK_ROWS", CHUNK)


# -- streamed files equal the whole-table write ----------------------------------------------------
@pytest.mark.parametrize("suffix", [".csv", ".parquet", ".dta"])
def test_streamed_file_equals_writing_the_whole_sample(model, tmp_path, small_chunks, suffix):
    out = tmp_path / f"streamed{suffix}"
    result = run("sample", "--model", model, "--rows", 200, "--seed", 4, "--out", out)
    assert result.exit_code == 0, result.output
    syn = HybridSynthesizer.load(model)
    whole = syn.sample(200, seed=4)
    write_table(whole, tmp_path / f"whole{suffix}")
    if suffix == ".csv":
        assert out.read_bytes() == (tmp_path / "whole.csv").read_bytes()
        assert "'=SUM(A1)" in out.read_text()  # the formula quoting applies to every chunk
    elif suffix == ".parquet":
        assert pq.ParquetFile(out).metadata.num_row_groups == -(-200 // CHUNK)
        streamed = pd.read_parquet(out)
        # sample() concatenates its chunks, and pandas turns a categorical into object when a
        # chunk lacks a category ('rare' here); the stream keeps the model's categories, so it
        # equals the whole sample in the model's dtypes, and the values are the same anyway
        assert streamed["grade"].dtype == "category"
        write_table(stable_dtypes(whole, syn.schema_), tmp_path / "stable.parquet")
        pd.testing.assert_frame_equal(streamed, pd.read_parquet(tmp_path / "stable.parquet"))
        pd.testing.assert_frame_equal(streamed, pd.read_parquet(tmp_path / "whole.parquet"),
                                      check_dtype=False, check_categorical=False)
    else:
        pd.testing.assert_frame_equal(read_table(out), read_table(tmp_path / "whole.dta"))
    # the summary is counted chunk by chunk: the same rows per class as the file
    assert "200 synthetic rows written" in result.stdout
    assert summary_rows(result.stdout) == whole["outcome"].value_counts().to_dict()
    assert "privacy guard" in result.stdout
    assert hidden(tmp_path) == []


def test_guard_report_is_summed_over_the_chunks(model, small_chunks):
    syn = HybridSynthesizer.load(model)
    syn.sample(200, seed=4)
    whole = syn.guard_report_.to_dict()
    parts = [syn.sample_chunk(c, 4, i)[1]["guard"] for i, c in
             enumerate(syn.chunk_plan(syn.class_plan(200)))]
    assert len(parts) == 6
    assert whole["refused"] == sum(p.refused for p in parts)


def test_writer_gives_every_chunk_one_schema(tmp_path):
    """Chunks of one draw whose dtypes differ (a gap in an integer column, a category missing
    from a chunk, a text column with no value in the first chunk) are written with one type."""
    table = pd.DataFrame({"n": [1, 2, 3, 4], "c": ["a", "b", "a", "b"],
                          "t": ["x", None, "y", None], "y": [0, 1, 0, 1]})
    table.loc[1, "n"] = np.nan  # int column with gaps -> the schema records its missing rate
    schema = infer_schema(table, "y")
    schema["n"].dtype = "int64"  # as a schema JSON may say
    chunks = [pd.DataFrame({"n": [1, 2], "c": pd.Categorical(["a", "a"]),
                            "t": pd.Series([None, None], dtype=object), "y": [0, 1]}),
              pd.DataFrame({"n": [np.nan, 4.0], "c": pd.Categorical(["b", "a"]),
                            "t": ["x", "y"], "y": [1, 0]})]
    for suffix in (".csv", ".parquet"):
        out = tmp_path / f"t{suffix}"
        with TableWriter(out, schema) as writer:
            for chunk in chunks:
                writer.write(chunk)
        assert writer.rows == 4
        back = pd.read_parquet(out) if suffix == ".parquet" else pd.read_csv(out)
        assert back["n"].tolist()[:2] == [1.0, 2.0] and np.isnan(back["n"][2])
        assert back["t"].tolist()[2:] == ["x", "y"]
        if suffix == ".csv":
            assert out.read_text().splitlines()[1].startswith("1.0,")  # float in every chunk
        else:
            assert list(back["c"].cat.categories) == ["a", "b"]
            assert pq.ParquetFile(out).metadata.num_row_groups == 2
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_an_error_mid_stream_leaves_no_file(model, tmp_path, small_chunks, monkeypatch, suffix):
    real = HybridSynthesizer.iter_chunks
    seen = []

    def two_then_fail(self, *args, **kwargs):
        for i, chunk in enumerate(real(self, *args, **kwargs)):
            if i == 2:  # the rows so far are in the temporary beside the target
                assert any(name.endswith(".tmp") for name in hidden(tmp_path))
                raise ClinisynthError("privacy guard: stopped for the test")
            seen.append(i)
            yield chunk

    monkeypatch.setattr(HybridSynthesizer, "iter_chunks", two_then_fail)
    new, old = tmp_path / f"new{suffix}", tmp_path / f"old{suffix}"
    old.write_text("old table\n")
    for out in (new, old):
        result = run("sample", "--model", model, "--rows", 200, "--out", out)
        one_line_error(result, "stopped for the test")
    assert seen == [0, 1, 0, 1]  # two chunks were written before each failure
    assert not new.exists() and old.read_text() == "old table\n"
    assert hidden(tmp_path) == []


def test_generate_streams_and_still_audits(tmp_path, small_chunks):
    data = tmp_path / "in.csv"
    make_mixed_table(150).to_csv(data, index=False)
    common = ("generate", "--data", data, "--target", "outcome", "--rows", 120, "--seed", 2,
              "--weights", "gmm", "--calibration", "none", "--threads", 1)
    result = run(*common, "--holdout-fraction", 0.3, "--out", tmp_path / "a.csv")
    assert result.exit_code == 0, result.output
    audit = json.loads((tmp_path / "a.audit.json").read_text())
    assert audit["meta"]["rows"]["synthetic"] == 120
    assert len(pd.read_csv(tmp_path / "a.csv")) == 120
    assert (tmp_path / "a.report.html").exists()
    result = run(*common, "--holdout-fraction", 0, "--out", tmp_path / "b.parquet")
    assert result.exit_code == 0, result.output
    assert pq.ParquetFile(tmp_path / "b.parquet").metadata.num_row_groups == 4
    assert "120 synthetic rows written" in result.stdout


# -- engines ---------------------------------------------------------------------------------------
def test_dask_dataset_equals_the_local_output(model, tmp_path, small_chunks):
    result = run("sample", "--model", model, "--rows", 200, "--seed", 4, "--out",
                 tmp_path / "one.parquet")
    assert result.exit_code == 0, result.output
    local = pd.read_parquet(tmp_path / "one.parquet")
    result = run("sample", "--model", model, "--rows", 200, "--seed", 4, "--out",
                 f"{tmp_path / 'local'}/")
    assert result.exit_code == 0, result.output
    (tmp_path / "ds.parquet").mkdir()  # an existing empty directory may be used
    result = run("sample", "--model", model, "--rows", 200, "--seed", 4, "--engine", "dask",
                 "--workers", 2, "--out", tmp_path / "ds.parquet")
    assert result.exit_code == 0, result.output
    printed = " ".join(result.stdout.split())
    assert "200 synthetic rows written" in printed and "(6 partitions)" in printed
    assert "privacy guard" in printed
    assert "Inside a Dask worker" not in result.stderr  # a worker-side notice, filtered
    for folder in ("local", "ds.parquet"):
        parts = sorted((tmp_path / folder).glob("part-*.parquet"))
        assert len(parts) == 6
        pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / folder), local)
    assert hidden(tmp_path) == []


@pytest.mark.parametrize("args, needle", [
    (["--address", "tcp://127.0.0.1:8786"], "--address needs --engine dask or --engine ray"),
    (["--workers", "2"], "--workers needs --engine dask or --engine ray"),
    (["--engine", "spark"], "--engine must be one of local, dask, ray, got 'spark'"),
    (["--engine", "ray"], "--engine ray needs Ray, which is not installed: "
                          "pip install 'clinisynth[ray]'"),
    (["--engine", "dask", "--workers", "0"], "--workers must be a positive integer, got 0"),
    (["--threads", "0"], "--threads must be a positive integer or -1, got 0"),
])
def test_engine_option_errors(model, tmp_path, args, needle):
    result = run("sample", "--model", model, "--rows", 10, "--out", f"{tmp_path / 'ds'}/",
                 *args)
    one_line_error(result, needle)
    assert list(tmp_path.iterdir()) == [tmp_path / "model"] or not (tmp_path / "ds").exists()


def test_dataset_output_errors(model, tmp_path):
    result = run("sample", "--model", model, "--rows", 10, "--engine", "dask",
                 "--out", tmp_path / "x.csv")
    one_line_error(result, "--out", "--engine dask writes a partitioned Parquet dataset")
    assert not (tmp_path / "x.csv").exists()
    full = tmp_path / "full"
    full.mkdir()
    (full / "notes.txt").write_text("mine")
    result = run("sample", "--model", model, "--rows", 10, "--out", f"{full}/")
    one_line_error(result, "--out", "already exists and is not empty")
    result = run("sample", "--model", model, "--rows", 10, "--out", full)
    one_line_error(result, "--out", "is a directory", "end it with / ")
    assert [p.name for p in full.iterdir()] == ["notes.txt"]
    result = run("sample", "--model", model, "--rows", 10, "--out", f"{tmp_path / 'd'}/",
                 "--condition", "age>=30")
    one_line_error(result, "--condition", "partitioned dataset")
    assert hidden(tmp_path) == []


# -- threads ---------------------------------------------------------------------------------------
def test_threads_do_not_change_the_sample(model, tmp_path, small_chunks):
    files = []
    for threads in (1, 2):
        out = tmp_path / f"t{threads}.csv"
        result = run("sample", "--model", model, "--rows", 150, "--seed", 9, "--threads",
                     threads, "--out", out)
        assert result.exit_code == 0, result.output
        files.append(out.read_bytes())
    assert files[0] == files[1]


def test_threads_reach_the_model(tmp_path, monkeypatch):
    data = tmp_path / "in.csv"
    make_mixed_table(80).to_csv(data, index=False)
    seen = []
    real = HybridSynthesizer.fit

    def spy(self, *args, **kwargs):
        seen.append(self.n_jobs)
        return real(self, *args, **kwargs)

    monkeypatch.setattr(HybridSynthesizer, "fit", spy)
    result = run("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "m",
                 "--weights", "gmm", "--calibration", "none", "--threads", 2)
    assert result.exit_code == 0, result.output
    assert seen == [2]


# -- conditions ------------------------------------------------------------------------------------
def test_sample_with_conditions(model, tmp_path):
    out = tmp_path / "c.csv"
    result = run("sample", "--model", model, "--rows", 60, "--seed", 1, "--out", out,
                 "--condition", "age>=50", "--condition", "site in north,east")
    assert result.exit_code == 0, result.output
    fake = pd.read_csv(out)
    assert len(fake) == 60 and (fake["age"] >= 50).all()
    assert fake["site"].isin(["north", "east"]).all()
    assert "60 synthetic rows written" in result.stdout
    result = run("sample", "--model", model, "--rows", 20, "--out", out, "--class-counts",
                 "Yes=20", "--condition", "sex=F")
    assert result.exit_code == 0, result.output
    fake = pd.read_csv(out)
    assert (fake["sex"] == "F").all() and (fake["outcome"] == "Yes").all()


def test_sample_impossible_condition_is_one_line(model, tmp_path):
    out = tmp_path / "c.csv"
    result = run("sample", "--model", model, "--rows", 10, "--out", out,
                 "--condition", "age>=500")
    one_line_error(result, "condition 'age>=500'")
    assert not out.exists() and hidden(tmp_path) == []


def test_max_rows_option(tmp_path):
    """`fit --max-rows N` fits a stratified subsample and says so; a bad N is a one-line error
    before any data is read, and writes nothing."""
    data = tmp_path / "t.csv"
    make_mixed_table(300, seed=4).to_csv(data, index=False)
    result = run("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "m",
                 "--weights", "gmm", "--calibration", "none", "--max-rows", 5)
    one_line_error(result, "--max-rows must be 0 (every row) or at least 12, got 5")
    assert not (tmp_path / "m").exists()
    result = run("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "m",
                 "--weights", "gmm", "--calibration", "none", "--max-rows", 100)
    assert result.exit_code == 0, result.output
    assert "fitting on a stratified subsample of 100 rows (--max-rows)" in " ".join(
        result.stdout.split())
    loaded = HybridSynthesizer.load(tmp_path / "m")
    assert loaded.max_rows == 100 and len(loaded.guard_.records_) == 100
    result = run("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "all",
                 "--weights", "gmm", "--calibration", "none", "--max-rows", 0)
    assert result.exit_code == 0 and "subsample" not in result.stdout
    assert len(HybridSynthesizer.load(tmp_path / "all").guard_.records_) == 300


def test_privacy_weight_options(tmp_path):
    """`--privacy-weight/--privacy-margin` reach the weight search's reward: every episode's
    reward is the combination with those weights; bad values are one-line errors."""
    data = tmp_path / "t.csv"
    make_mixed_table(160, seed=5).to_csv(data, index=False)
    base = ("fit", "--data", data, "--target", "outcome", "--model", tmp_path / "m")
    for extra, needle in ((("--privacy-weight", -1), "--privacy-weight must be a non-negative"),
                          (("--privacy-margin", 0.5), "--privacy-margin must be in [0, 0.5)"),
                          (("--privacy-weight", 2, "--weights", "gmm"),
                           "--privacy-weight applies only to --weights learned")):
        one_line_error(run(*base, *extra), needle)
        assert not (tmp_path / "m").exists()
    result = run(*base, "--privacy-weight", 3, "--privacy-margin", 0)
    assert result.exit_code == 0, result.output
    loaded = HybridSynthesizer.load(tmp_path / "m")
    assert loaded.reward == {"privacy": 3.0, "privacy_margin": 0.0}
    knob = RewardWeights(privacy=3.0, privacy_margin=0.0)
    for episode in loaded.search_.episodes:
        p = episode.parts
        assert episode.reward == pytest.approx(
            knob.combine(p["fidelity"], p["utility_f1"], p["dcr_share"]))
