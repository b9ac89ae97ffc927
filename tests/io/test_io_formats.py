"""The formats clinical data comes in: each one through `clinisynth generate`, plus the details
(delimiter, encoding, missing markers, infinities, formula-safe CSV) one at a time."""

from __future__ import annotations

import gzip
import zipfile

import numpy as np
import pandas as pd
import pyreadstat
import pytest
from typer.testing import CliRunner

from clinisynth.cli import app
from clinisynth.errors import ClinisynthError, SchemaError
from clinisynth.io import ClinisynthNotice, ReadOptions, read_table, write_table
from clinisynth.io.text import sniff_delimiter
from clinisynth.schema import infer_schema
from conftest import make_mixed_table

FAST = ["--weights", "gmm", "--calibration", "none", "--holdout-fraction", "0", "--rows", "12"]


def generate(data, out, *extra):
    return CliRunner().invoke(app, ["generate", "--data", str(data), "--out", str(out), *FAST,
                                    *map(str, extra)])


def one_error_line(result, *fragments):
    lines = result.stderr.strip().splitlines()
    assert result.exit_code == 2, result.output
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


@pytest.fixture(scope="module")
def table() -> pd.DataFrame:
    return make_mixed_table(40, seed=3)


def _write(df: pd.DataFrame, path) -> None:
    name = path.name
    if name.endswith((".csv", ".tsv")):
        df.to_csv(path, sep="\t" if name.endswith(".tsv") else ",", index=False)
    elif name.endswith(".csv.gz"):
        path.write_bytes(gzip.compress(df.to_csv(index=False).encode()))
    elif name.endswith(".zip"):
        with zipfile.ZipFile(path, "w") as archive:
            archive.writestr("cohort.csv", df.to_csv(index=False))
    elif name.endswith(".xlsx"):
        df.to_excel(path, index=False)
    elif name.endswith(".parquet"):
        df.to_parquet(path, index=False)
    elif name.endswith(".dta"):
        pyreadstat.write_dta(df, str(path))
    elif name.endswith(".sav"):
        pyreadstat.write_sav(df, str(path))
    elif name.endswith(".xpt"):
        pyreadstat.write_xport(df, str(path))


@pytest.mark.parametrize("name", ["t.csv", "t.tsv", "t.csv.gz", "t.zip", "t.xlsx", "t.parquet",
                                  "t.dta", "t.sav", "t.xpt"])
def test_each_format_goes_through_generate(tmp_path, table, name):
    data, out = tmp_path / name, tmp_path / "out" / "syn.csv"
    _write(table, data)
    assert read_table(data).shape == table.shape
    result = generate(data, out, "--target", "outcome")
    assert result.exit_code == 0, result.output
    fake = pd.read_csv(out)
    assert list(fake.columns) == list(table.columns) and len(fake) == 12
    assert set(fake["site"].dropna()) <= {"north", "south", "east"}


def cleveland_like(n: int = 40, seed: int = 0) -> pd.DataFrame:
    """Cleveland heart-disease style: '?' in two numeric columns, string categories."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame({
        "age": rng.integers(29, 78, n), "chol": rng.integers(126, 565, n),
        "cp": rng.choice(["typical", "atypical", "non-anginal", "asymptomatic"], n),
        "ca": rng.integers(0, 4, n).astype(str), "oldpeak": rng.gamma(1, 1, n).round(1),
        "thal": rng.choice(["3.0", "6.0", "7.0"], n), "num": rng.choice(["0", "1"], n),
    })
    df.loc[[2, 11], "ca"] = "?"
    df.loc[[5], "thal"] = "?"
    df.loc[[7, 8], "oldpeak"] = np.nan
    return df.astype({"oldpeak": object}).fillna({"oldpeak": "?"})


def test_question_mark_markers_need_the_flag_and_get_a_notice(tmp_path):
    data, out = tmp_path / "cleveland.csv", tmp_path / "syn.csv"
    cleveland_like().to_csv(data, index=False)
    result = generate(data, out, "--target", "num")
    one_error_line(result, "column 'ca'", "--na-values '?'")
    assert "notice:" in result.stdout and "--na-values '?'" in result.stdout
    assert not out.exists()
    result = generate(data, out, "--target", "num", "--na-values", "?")
    assert result.exit_code == 0, result.output
    fake = pd.read_csv(out)
    assert pd.api.types.is_numeric_dtype(fake["ca"]) and "?" not in set(fake["thal"].astype(str))


def test_latin1_semicolon_file_with_decimal_commas_needs_no_flags(tmp_path, table):
    data, out = tmp_path / "export.csv", tmp_path / "syn.csv"
    df = table.assign(city=np.resize(["Zürich", "Genève", "Köln"], len(table)))
    df.to_csv(data, sep=";", decimal=",", index=False, encoding="latin-1")
    result = generate(data, out, "--target", "outcome")
    assert result.exit_code == 0, result.output
    assert "cp1252" in result.stdout and "decimal mark" in result.stdout
    fake = pd.read_csv(out)
    assert list(fake.columns) == list(df.columns)
    assert pd.api.types.is_float_dtype(fake["bmi"]) and set(fake["city"]) <= {"Zürich", "Genève",
                                                                               "Köln"}


@pytest.mark.parametrize("suffix", [".dta", ".sav"])
def test_stata_and_spss_value_labels_become_categories_and_survive_output(tmp_path, table,
                                                                           suffix):
    data, out = tmp_path / f"cohort{suffix}", tmp_path / f"syn{suffix}"
    df = table.assign(smoker=table["smoker"].astype(float))
    writer = pyreadstat.write_dta if suffix == ".dta" else pyreadstat.write_sav
    writer(df, str(data), variable_value_labels={"smoker": {0.0: "never", 1.0: "current"}})
    read = read_table(data)
    assert isinstance(read["smoker"].dtype, pd.CategoricalDtype)
    assert set(read["smoker"].cat.categories) == {"never", "current"}
    result = generate(data, out, "--target", "outcome")
    assert result.exit_code == 0, result.output
    back = read_table(out)
    assert list(back.columns) == list(df.columns) and len(back) == 12
    assert set(back["smoker"].dropna()) <= {"never", "current"}


def test_delimiter_is_sniffed_and_can_be_forced(tmp_path):
    assert sniff_delimiter('a|b|c\n1|"x,y"|3\n') == "|"
    assert sniff_delimiter('id;note;y\n1;"a;b, c";0\n2;plain;1\n') == ";"
    assert sniff_delimiter("a\tb\n1,5\t2\n") == "\t"
    assert sniff_delimiter("name, kg;weight;y\n1,5;70,2;0\n") == ";"
    path = tmp_path / "t.csv"
    path.write_text("a|b;c\n1|2;3\n4|5;6\n")
    assert list(read_table(path).columns) == ["a|b", "c"]  # a tie: semicolon before pipe
    assert list(read_table(path, ReadOptions(sep="pipe")).columns) == ["a", "b;c"]
    with pytest.raises(ClinisynthError, match="--sep"):
        ReadOptions(sep="::")
    with pytest.raises(ClinisynthError, match="--encoding"):
        ReadOptions(encoding="no-such-codec")


def test_encoding_fallback_is_announced_and_forcing_a_wrong_one_is_one_line(tmp_path):
    path = tmp_path / "t.csv"
    path.write_bytes("city,y\nZürich,1\nBern,0\n".encode("cp1252"))
    with pytest.warns(ClinisynthNotice, match="cp1252"):
        assert read_table(path)["city"].tolist() == ["Zürich", "Bern"]
    with pytest.raises(ClinisynthError, match="not valid utf-8"):
        read_table(path, ReadOptions(encoding="utf-8"))
    bom = tmp_path / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfage,y\n1,0\n2,1\n")
    assert list(read_table(bom).columns) == ["age", "y"]


def test_excel_sheets_notice_choice_and_unknown_sheet(tmp_path, table):
    path = tmp_path / "book.xlsx"
    with pd.ExcelWriter(path) as book:
        table.head(5).to_excel(book, sheet_name="notes", index=False)
        table.to_excel(book, sheet_name="cohort", index=False)
    with pytest.warns(ClinisynthNotice, match="2 sheets"):
        assert len(read_table(path)) == 5
    assert len(read_table(path, ReadOptions(sheet="cohort"))) == len(table)
    assert len(read_table(path, ReadOptions(sheet="2"))) == len(table)
    result = generate(path, tmp_path / "o.csv", "--target", "outcome", "--sheet", "nope")
    one_error_line(result, "--sheet 'nope'", "'notes', 'cohort'")


def test_bad_containers_give_one_line(tmp_path, table):
    two = tmp_path / "two.zip"
    with zipfile.ZipFile(two, "w") as archive:
        archive.writestr("a.csv", "x,y\n1,2\n")
        archive.writestr("b.csv", "x,y\n1,2\n")
    one_error_line(generate(two, tmp_path / "o.csv", "--target", "y"), "holds 2 files")
    gz = tmp_path / "cut.csv.gz"
    gz.write_bytes(gzip.compress(table.to_csv(index=False).encode())[:60])
    one_error_line(generate(gz, tmp_path / "o.csv", "--target", "outcome"), "compressed")
    xlsx = tmp_path / "fake.csv"
    xlsx.write_bytes(b"PK\x03\x04\x00\x00garbage")
    one_error_line(generate(xlsx, tmp_path / "o.csv", "--target", "y"), "rename it")
    one_error_line(generate(tmp_path / "old.xls", tmp_path / "o.csv", "--target", "y"),
                   "save it as .xlsx")
    assert not list(tmp_path.glob("o.*")) and not list(tmp_path.glob(".o.*"))


def test_empty_rows_and_trailing_delimiter_columns_are_skipped(tmp_path):
    path = tmp_path / "t.csv"
    path.write_text("a,b,y,\n1,2,0,\n,,,\n3,4,1,\n")
    with pytest.warns(ClinisynthNotice, match="empty"):
        df = read_table(path)
    assert list(df.columns) == ["a", "b", "y"] and len(df) == 2


def test_infinities_become_missing_with_a_notice(tmp_path, table):
    data, out = tmp_path / "inf.csv", tmp_path / "syn.csv"
    df = table.copy()
    df.loc[[1, 4, 9], "lab"] = [np.inf, -np.inf, np.inf]
    df.to_csv(data, index=False)
    result = generate(data, out, "--target", "outcome")
    assert result.exit_code == 0, result.output
    assert "infinite values treated as missing" in result.stdout and "'lab' (3)" in result.stdout
    assert np.isfinite(pd.read_csv(out)["lab"].dropna()).all()
    with pytest.raises(SchemaError, match="column 'lab' has 3 infinite"):
        infer_schema(df, "outcome")  # the Python API refuses them rather than guess


@pytest.mark.parametrize("scale", [1e300, -1e200])
def test_values_too_large_to_standardise_are_refused_in_one_line(tmp_path, table, scale):
    data, out = tmp_path / "big.csv", tmp_path / "syn.csv"
    table.assign(bmi=table["bmi"] * scale).to_csv(data, index=False)
    one_error_line(generate(data, out, "--target", "outcome"), "column 'bmi'", "rescale")
    assert not out.exists()


def test_csv_output_neutralises_formulas_in_text_only(tmp_path):
    df = pd.DataFrame({"note": ["=1+1", "+cmd", "-x", "@SUM(A1)", "\tt", "plain", "-5", None],
                       "value": [-5, -1.5, 3, 4, 5, 6, 7, 8]})
    path = tmp_path / "o.csv"
    write_table(df, path)
    lines = path.read_text().splitlines()
    assert lines[1:6] == ["'=1+1,-5.0", "'+cmd,-1.5", "'-x,3.0", "'@SUM(A1),4.0", "'\tt,5.0"]
    assert lines[6:] == ["plain,6.0", "-5,7.0", ",8.0"]


def test_formula_categories_come_out_neutralised_through_generate(tmp_path, table):
    data, out = tmp_path / "t.csv", tmp_path / "syn.csv"
    df = table.assign(site=table["site"].map({"north": "=HYPERLINK(\"x\")", "south": "@x",
                                              "east": "east"}))
    df.to_csv(data, index=False)
    assert generate(data, out, "--target", "outcome").exit_code == 0
    site = pd.read_csv(out)["site"]
    assert set(site) <= {"'=HYPERLINK(\"x\")", "'@x", "east"}
    assert pd.api.types.is_numeric_dtype(pd.read_csv(out)["age"])


def test_stata_output_refuses_invalid_names_before_fitting(tmp_path, table):
    data, out = tmp_path / "t.csv", tmp_path / "syn.dta"
    table.rename(columns={"bmi": "body mass"}).to_csv(data, index=False)
    one_error_line(generate(data, out, "--target", "outcome"), "'body mass'", "Stata")
    assert not out.exists()


def test_schema_and_evaluate_take_the_read_options(tmp_path, table):
    data = tmp_path / "t.csv"
    table.to_csv(data, sep=";", decimal=",", index=False, encoding="latin-1")
    result = CliRunner().invoke(app, ["schema", "--data", str(data), "--target", "outcome",
                                      "--out", str(tmp_path / "s.json"), "--sep", ";",
                                      "--encoding", "latin-1"])
    assert result.exit_code == 0, result.output
    result = CliRunner().invoke(app, ["evaluate", "--train", str(data), "--holdout", str(data),
                                      "--synthetic", str(data), "--target", "outcome",
                                      "--encoding", "no-such"])
    one_error_line(result, "--encoding 'no-such'")


def test_stray_line_breaks_give_one_error_line(tmp_path):
    """Found by the fuzzer: a lone CR inside an unquoted field, and a header holding \\x0b."""
    cr = tmp_path / "cr.csv"
    cr.write_bytes(b"a,b,y\n1,x\ry,0\n2,z,1\n")
    # pandas, like a spreadsheet, ends a row at the CR: the target then has gaps
    one_error_line(generate(cr, tmp_path / "o.csv", "--target", "y"), "missing values")
    vt = tmp_path / "vt.csv"
    vt.write_bytes(b"a\x0bb,c\n1,2\n3,4\n")
    one_error_line(generate(vt, tmp_path / "o.csv", "--target", "outcome"), "a\\x0bb")
