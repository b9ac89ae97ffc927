"""Hostile input tables for the property-based test of the input path (and its hand-run script).

:func:`hostile_cases` is a hypothesis strategy of :class:`Case`: a file (bytes and a name) a
hospital analyst might hand to ``clinisynth generate``, built from structural choices drawn by
hypothesis (sizes, column kinds, headers, delimiter, encoding, container, damage) and cell values
from a numpy generator seeded by hypothesis. :func:`run_case` runs ``generate`` on it through
typer's CliRunner with fast settings and classifies the outcome:

* ``"valid"``: exit 0 and the output table keeps the schema's rules (the schema inferred from the
  same file): its columns, ``--rows`` rows, integers whole, numbers within range, only known
  categories, gaps only where the input had gaps; nothing else left in the output folder;
* ``"error"``: exit 2, exactly one stderr line starting ``error:``, and no output or temporary
  file left;
* anything else raises :class:`CaseFailure` (the test fails; the script counts it as "other").
"""

from __future__ import annotations

import csv
import gzip
import io
import math
import re
import warnings
import zipfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from hypothesis import strategies as st
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner

from clinisynth.cli import app
from clinisynth.io import ReadOptions, read_table
from clinisynth.io.writers import FORMULA_PREFIXES
from clinisynth.schema import TableSchema, category_key, infer_schema

FAST_ARGS = ["--weights", "gmm", "--calibration", "none", "--holdout-fraction", "0"]
NARROW_KINDS = ("int", "float", "extreme", "formatted", "mixed", "category", "unique", "date",
                "empty", "markers", "constant", "bool", "sparse", "text_numbers")
WIDE_KINDS = ("int", "float", "category", "sparse", "constant", "bool")
HEADERS = ("age", "Größe (cm)", "  padded  ", "naïve-β", "tab\there", "", "x", "日本語",
           "=cmd()", "a,b", 'quote"d', "new\nline", "Unnamed: 1", "x" * 80)
WORDS = ("yes", "no", "Zürich", "=1+1", "+sum(A1)", "-neg", "@at", " lead", "trail ", "日本",
         "a,b", 'q"uote', "line\nbreak", "\tTab", "ünï", "NA", "?", ".")
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y", "%m/%d/%y", "%d.%m.%Y", "%b %d %Y", "%Y-%m-%dT%H:%M:%S")


class CaseFailure(AssertionError):
    """``generate`` did something other than a valid table or a one-line error."""


@dataclass
class Case:
    name: str  # file name, its suffix selects the reader
    data: bytes
    target: str
    rows: int
    out_suffix: str
    args: list[str] = field(default_factory=list)  # extra flags (--na-values, --sep …)
    seed: int = 0
    note: str = ""  # what was drawn, for the failure message

    def __repr__(self) -> str:
        return (f"Case({self.name!r}, {len(self.data)} bytes, target={self.target!r}, "
                f"rows={self.rows}, out={self.out_suffix}, args={self.args}, {self.note})")


# -- the strategy --------------------------------------------------------------------------------
def _cells(kind: str, n: int, rng: np.random.Generator) -> list[str]:
    """``n`` cell texts of a column of ``kind`` (empty text = missing)."""
    if kind == "int":
        hi = int(rng.choice([10, 1000, 10**9, 10**18]))
        cells = [str(int(v)) for v in rng.integers(-hi, hi, size=n)]
    elif kind == "float":
        cells = [repr(float(v)) for v in rng.normal(0, 10.0 ** rng.integers(-3, 6), size=n)]
    elif kind == "extreme":
        pool = ["inf", "-inf", "Infinity", "1e300", "-1e308", "1.7976931348623157e308", "1e-320",
                "5e-324", "1e150", "NaN", "0", "-0.0", "12.5"]
        cells = [str(rng.choice(pool)) if rng.random() < 0.3 else repr(float(rng.normal(5, 2)))
                 for _ in range(n)]
    elif kind == "formatted":
        fmt = str(rng.choice(["{:,}", "{} mg", "{}kg", "{} %", "{:,.2f}", "${}"]))
        cells = [fmt.format(int(v)) for v in rng.integers(500, 50_000, size=n)]
    elif kind == "mixed":
        cells = [str(int(rng.integers(0, 100))) if rng.random() < 0.6 else str(rng.choice(WORDS))
                 for _ in range(n)]
    elif kind == "category":
        pool = list(rng.choice(WORDS, size=int(rng.integers(1, 6)), replace=False))
        cells = [str(rng.choice(pool)) for _ in range(n)]
    elif kind == "unique":
        cells = [f"id-{i}-{rng.integers(10**6)}" for i in range(n)]
    elif kind == "date":
        fmt = str(rng.choice(DATE_FORMATS))
        start = pd.Timestamp("1990-01-01")
        cells = [(start + pd.Timedelta(days=int(d))).strftime(fmt)
                 for d in rng.integers(0, 20_000, size=n)]
    elif kind == "empty":
        cells = [""] * n
    elif kind == "markers":
        marker = str(rng.choice(["?", ".", "-", "NULL", "n/a"]))
        cells = [marker if rng.random() < 0.1 else str(int(rng.integers(0, 40)))
                 for _ in range(n)]
    elif kind == "constant":
        cells = [str(rng.choice(["7", "x", "1.5"]))] * n
    elif kind == "bool":
        pair = [("TRUE", "FALSE"), ("yes", "no"), ("1", "0")][int(rng.integers(3))]
        cells = [pair[int(b)] for b in rng.integers(0, 2, size=n)]
    elif kind == "sparse":
        cells = [repr(float(v)) if rng.random() < 0.15 else "" for v in rng.normal(size=n)]
    else:  # text_numbers: every cell a quoted number, with leading zeros
        cells = [f"{int(v):05d}" for v in rng.integers(0, 10**4, size=n)]
    if kind not in ("empty", "sparse", "constant") and rng.random() < 0.3:
        cells = [c if rng.random() > 0.2 else "" for c in cells]
    return cells


def _labels(n_classes: int, style: str) -> list[str]:
    if style == "int":
        return [str(i) for i in range(n_classes)]
    if style == "float":
        return [f"{i}.5" for i in range(n_classes)]
    if style == "bool" and n_classes == 2:
        return ["True", "False"]
    if style == "unicode":
        return [f"klasse-ü{i}" for i in range(n_classes)]
    return [f"c{i}" for i in range(n_classes)]


@st.composite
def hostile_cases(draw: st.DrawFn) -> Case:
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    wide = draw(st.integers(0, 9)) == 0
    if wide:
        n_classes, per_class = draw(st.sampled_from([2, 3])), draw(st.integers(1, 15))
        n_features = draw(st.sampled_from([60, 200, 499]))
        kinds = [str(k) for k in rng.choice(WIDE_KINDS, size=n_features)]
    else:
        n_classes = draw(st.sampled_from([1, 2, 2, 2, 2, 3, 3, 4, 30, 250]))
        per_class = draw(st.sampled_from([1, 2, 3, 5, 8, 8, 15, 15, 40]))
        if n_classes >= 30:
            per_class = min(per_class, 3)
        n_features = draw(st.integers(1, 8))
        kinds = [draw(st.sampled_from(NARROW_KINDS)) for _ in range(n_features)]
        if "empty" in kinds and draw(st.integers(0, 2)) > 0:  # keep some all-missing columns
            kinds = [k if k != "empty" else "int" for k in kinds]
    n = n_classes * per_class
    label_style = draw(st.sampled_from(["str", "int", "float", "bool", "unicode"]))
    labels = _labels(n_classes, label_style)
    y = [labels[i % n_classes] for i in rng.permutation(n)]
    if draw(st.integers(0, 9)) == 0:  # a few missing labels
        y = [v if rng.random() > 0.1 else "" for v in y]
    columns = [_cells(k, n, rng) for k in kinds]
    if wide:
        headers = [f"v{i}" for i in range(n_features)]
    else:
        headers = draw(st.lists(st.sampled_from(HEADERS), min_size=n_features,
                                max_size=n_features, unique=draw(st.integers(0, 9)) > 0))
    target = draw(st.sampled_from(["outcome", "Zielgröße", "y y", "outcome "]))
    pos = draw(st.integers(0, n_features))
    headers.insert(pos, target)
    columns.insert(pos, y)
    rows = [list(r) for r in zip(*columns, strict=True)]
    if n and draw(st.integers(0, 5)) == 0:  # all-missing rows
        for i in rng.choice(n, size=max(1, n // 10), replace=False):
            rows[int(i)] = [""] * len(headers)
    sep = draw(st.sampled_from([",", ",", ";", "\t", "|"]))
    container = draw(st.sampled_from(["csv", "csv", "csv", "csv", "tsv", "csv.gz", "zip",
                                      "xlsx", "parquet", "dta", "sav"]))
    encoding = draw(st.sampled_from(["utf-8", "utf-8", "utf-8-sig", "cp1252", "latin-1",
                                     "utf-16"]))
    damage = draw(st.sampled_from(["none"] * 12 + ["truncate", "binary", "nul", "empty"]))
    args: list[str] = []
    if draw(st.integers(0, 3)) == 0:
        args += ["--na-values", "?", "--na-values", "."]
    if draw(st.integers(0, 5)) == 0:
        args += ["--no-privacy-guard"]
    text = _to_csv(headers, rows, "\t" if container == "tsv" else sep)
    name, data = _package(text, container, encoding, rng)
    data = _damage(data, damage, rng)
    out_suffix = draw(st.sampled_from([".csv"] * 5 + [".parquet", ".parquet", ".dta", ".sav"]))
    note = (f"seed={seed} wide={wide} classes={n_classes}x{per_class} kinds={sorted(set(kinds))} "
            f"sep={sep!r} enc={encoding} damage={damage}")
    return Case(name=name, data=data, target=target, rows=draw(st.sampled_from([1, 7, 40])),
                out_suffix=out_suffix, args=args, seed=int(rng.integers(100)), note=note)


def _to_csv(headers: list[str], rows: list[list[str]], sep: str) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, delimiter=sep, lineterminator="\n")
    writer.writerow(headers)
    writer.writerows(rows)
    return buf.getvalue()


def _package(text: str, container: str, encoding: str, rng: np.random.Generator
             ) -> tuple[str, bytes]:
    """The file name and bytes of the table in ``container`` (CSV when pandas cannot write it)."""
    raw = text.encode(encoding, errors="replace")
    if container in ("csv", "tsv"):
        return f"table.{container}", raw
    if container == "csv.gz":
        return "table.csv.gz", gzip.compress(raw, mtime=0)
    if container == "zip":
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as archive:
            archive.writestr("export/table.csv", raw)
        return "table.zip", buf.getvalue()
    try:  # binary formats: the table as pandas reads the text, written by pandas/pyreadstat
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            df = pd.read_csv(io.StringIO(text), sep=None, engine="python")
            buf = io.BytesIO()
            if container == "xlsx":
                df.to_excel(buf, index=False)
            elif container == "parquet":
                df.to_parquet(buf, index=False)
            else:
                import pyreadstat

                tmp = Path(f"/tmp/clinisynth-fuzz-{rng.integers(10**12)}.{container}")
                try:
                    (pyreadstat.write_dta if container == "dta" else pyreadstat.write_sav)(
                        df, str(tmp))
                    return f"table.{container}", tmp.read_bytes()
                finally:
                    tmp.unlink(missing_ok=True)
            return f"table.{container}", buf.getvalue()
    except Exception:
        return "table.csv", raw


def _damage(data: bytes, damage: str, rng: np.random.Generator) -> bytes:
    if damage == "truncate" and len(data) > 2:
        return data[: int(rng.integers(1, len(data)))]
    if damage == "binary":
        return rng.bytes(int(rng.integers(1, 2048)))
    if damage == "nul" and data:
        i = int(rng.integers(len(data)))
        return data[:i] + b"\x00" + data[i:]
    if damage == "empty":
        return b""
    return data


# -- running and judging one case ----------------------------------------------------------------
def run_case(case: Case, workdir: Path, errors: Counter[str] | None = None) -> str:
    """Run ``generate`` on ``case`` in a fresh ``workdir``; return "valid" or "error", or raise
    :class:`CaseFailure`. ``errors`` counts the error messages by their start."""
    src, out_dir = workdir / "in", workdir / "out"
    src.mkdir(parents=True)
    out_dir.mkdir()
    path = src / case.name
    path.write_bytes(case.data)
    out = out_dir / f"synthetic{case.out_suffix}"
    args = ["generate", "--data", str(path), "--target", case.target, "--rows", str(case.rows),
            "--out", str(out), "--seed", str(case.seed), *FAST_ARGS, *case.args]
    # one BLAS thread: on a loaded machine threaded BLAS makes small GMM fits ~40x slower
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        warnings.simplefilter("ignore")  # the outcome is judged on exit code, stderr and files
        result = CliRunner().invoke(app, args)
    left = sorted(p.name for p in out_dir.iterdir())
    stderr = result.stderr
    if result.exit_code == 2:
        lines = stderr.strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("error: "):
            raise CaseFailure(f"exit 2 without exactly one error line: {stderr!r}\n{case!r}")
        if left:
            raise CaseFailure(f"exit 2 left files {left}: {lines[0]}\n{case!r}")
        if errors is not None:
            errors[re.sub(r"'[^']*'", "'…'", lines[0])[:90]] += 1
        return "error"
    if result.exit_code != 0:
        exc = result.exception
        raise CaseFailure(f"exit {result.exit_code}: {type(exc).__name__}: {exc}\n{case!r}"
                          ) from exc
    if "Traceback" in stderr:
        raise CaseFailure(f"exit 0 with a traceback: {stderr}\n{case!r}")
    if left != [out.name]:
        raise CaseFailure(f"exit 0 but the output folder holds {left}\n{case!r}")
    na = [a for i, a in enumerate(case.args) if i and case.args[i - 1] == "--na-values"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = infer_schema(read_table(path, ReadOptions(na_values=tuple(na))), case.target)
    try:
        check_output(out, schema, case.rows)
    except AssertionError as exc:
        raise CaseFailure(f"exit 0 but the output breaks the schema: {exc}\n{case!r}") from None
    return "valid"


def check_output(out: Path, schema: TableSchema, rows: int) -> None:
    """Assert that the table at ``out`` keeps ``schema``'s rules and has ``rows`` rows."""
    if out.suffix == ".csv":
        frame = pd.read_csv(out, dtype=str, keep_default_na=False)
        frame = frame.apply(lambda s: s.map(_undo_neutralise)).replace("", np.nan)
    elif out.suffix == ".parquet":
        frame = pd.read_parquet(out)
    else:  # Stata/SPSS: names and row count (types follow the format's own rules)
        import pyreadstat

        reader = pyreadstat.read_dta if out.suffix == ".dta" else pyreadstat.read_sav
        frame, _ = reader(str(out), apply_value_formats=True)
        assert list(frame.columns) == schema.names, f"columns {list(frame.columns)}"
        assert len(frame) == rows, f"{len(frame)} rows, not {rows}"
        return
    assert list(frame.columns) == schema.names, f"columns {list(frame.columns)}"
    assert len(frame) == rows, f"{len(frame)} rows, not {rows}"
    for col in schema.columns:
        values = frame[col.name]
        gaps = values.isna()
        assert not gaps.any() or col.missing_rate > 0, f"'{col.name}' has unexpected gaps"
        present = values[~gaps]
        if col.is_numeric:
            x = present.astype(float).to_numpy()
            assert np.isfinite(x).all(), f"'{col.name}' has non-finite values"
            tol = 1e-9 * max(1.0, abs(col.min or 0.0), abs(col.max or 0.0))
            assert (x >= col.min - tol).all() and (x <= col.max + tol).all(), (
                f"'{col.name}' leaves [{col.min}, {col.max}]: {x.min()} .. {x.max()}")
            if col.kind == "integer":
                assert all(float(v).is_integer() for v in x), f"'{col.name}' is not whole"
        else:
            known = {category_key(c) for c in col.categories or []}
            texts = {str(c) for c in col.categories or []}
            for v in pd.unique(present):
                ok = category_key(v) in known or (isinstance(v, str) and (
                    v in texts or _numeric_key(v) in known))
                assert ok, f"'{col.name}' has unknown category {v!r}"


def _undo_neutralise(text: str) -> str:
    if text.startswith("'") and text[1:].startswith(FORMULA_PREFIXES):
        return text[1:]
    return text


def _numeric_key(text: str) -> tuple[str, object]:
    if text in ("True", "False"):
        return ("b", text == "True")
    try:
        value = float(text)
    except ValueError:
        return ("s", text)
    return ("n", value) if math.isfinite(value) else ("s", text)
