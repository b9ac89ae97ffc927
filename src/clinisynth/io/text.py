"""Delimited text: reading its bytes (plain, compressed or zipped), decoding them, and detecting
the delimiter and the decimal mark (used by :func:`clinisynth.io.readers.read_table`).
"""

from __future__ import annotations

import bz2
import codecs
import csv
import gzip
import io
import lzma
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

from clinisynth.errors import ClinisynthError
from clinisynth.io.notices import notice

TEXT_SUFFIXES = (".csv", ".tsv", ".txt")
COMPRESSIONS: dict[str, Callable[[Path], io.BufferedIOBase]] = {
    ".gz": gzip.open, ".bz2": bz2.open, ".xz": lzma.open,  # type: ignore[dict-item]
}
DELIMITERS = (",", "\t", ";", "|")
FALLBACK_ENCODINGS = ("cp1252", "latin-1")
_SAMPLE_CHARS = 65536
_SAMPLE_ROWS = 200
_COMMA_DECIMAL = re.compile(r"^-?\d+,\d+$")
_DOT_DECIMAL = re.compile(r"^-?\d*\.\d+$")


def raw_bytes(path: Path, kind: str, compression: str | None) -> bytes:
    try:
        if kind == "zip":
            with zipfile.ZipFile(path) as archive:
                members = [m for m in archive.infolist()
                           if not m.is_dir() and not m.filename.startswith("__MACOSX/")]
                if len(members) != 1:
                    raise ClinisynthError(
                        f"'{path}' holds {len(members)} files; give a zip with exactly one table")
                member = members[0]
                if Path(member.filename).suffix.lower() not in TEXT_SUFFIXES:
                    raise ClinisynthError(
                        f"'{path}' holds '{member.filename}'; only a zipped CSV/TSV is read "
                        "directly, unzip other formats first")
                return archive.read(member)
        if compression is not None:
            with COMPRESSIONS[compression](path) as fh:
                return fh.read()
        return path.read_bytes()
    except ClinisynthError:
        raise
    except Exception as exc:  # zipfile/gzip/lzma: BadZipFile, EOFError, OSError, zlib.error …
        raise ClinisynthError(f"'{path}' is not a readable compressed file ({first_line(exc)})"
                              ) from None


def decode(data: bytes, path: Path, encoding: str | None) -> str:
    """Decode with ``encoding``, else UTF-8 (BOM honoured), else the fallbacks (with a notice)."""
    if encoding is not None:
        try:
            return data.decode(encoding)
        except UnicodeDecodeError as exc:
            raise ClinisynthError(
                f"'{path}' is not valid {encoding} (byte 0x{data[exc.start]:02x} at offset "
                f"{exc.start}); try another --encoding") from None
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError:
            raise ClinisynthError(f"'{path}' starts like UTF-16 text but is not valid UTF-16"
                                  ) from None
    if b"\x00" in data:
        hint = ""
        if data.startswith(b"PK\x03\x04"):
            hint = "; it looks like a zip or an Excel workbook, rename it to .zip or .xlsx"
        elif data.startswith(b"\x1f\x8b"):
            hint = "; it looks gzip-compressed, rename it to end in .csv.gz"
        raise ClinisynthError(f"'{path}' is not a text table (it holds binary data){hint}")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    for fallback in FALLBACK_ENCODINGS:
        try:
            text = data.decode(fallback)
        except UnicodeDecodeError:
            continue
        notice(f"'{path.name}' is not UTF-8; read it as {fallback} "
               "(use --encoding to choose another)")
        return text
    raise AssertionError("latin-1 decodes any bytes")  # pragma: no cover


def sniff_delimiter(text: str) -> str:
    """The delimiter among comma, tab, semicolon, pipe that splits the first rows most evenly.

    Each candidate parses a sample (quotes respected); its score is the share of rows with as
    many fields as the header, then the header's field count (>= 2 to count at all), then the
    order above. A one-column text gives a comma.
    """
    sample = _sample(text)
    best, best_key = ",", (-1.0, 0, 0)
    for rank, sep in enumerate(reversed(DELIMITERS)):
        counts = _field_counts(sample, sep)
        if not counts or counts[0] < 2:
            continue
        rows = counts[1:]
        consistency = sum(c == counts[0] for c in rows) / len(rows) if rows else 1.0
        key = (round(consistency, 1), counts[0], rank)
        if key > best_key:
            best, best_key = sep, key
    return best


def _sample(text: str) -> str:
    if len(text) <= _SAMPLE_CHARS:
        return text
    cut = text.rfind("\n", 0, _SAMPLE_CHARS)
    return text[: cut if cut > 0 else _SAMPLE_CHARS]


def _field_counts(sample: str, sep: str) -> list[int]:
    counts: list[int] = []
    try:
        for row in csv.reader(io.StringIO(sample, newline=""), delimiter=sep,
                              skipinitialspace=True):
            if any(field.strip() for field in row):
                counts.append(len(row))
            if len(counts) >= _SAMPLE_ROWS:
                break
    except csv.Error:
        pass
    return counts


def uses_comma_decimal(text: str, sep: str) -> bool:
    comma = dot = 0
    try:
        for i, row in enumerate(csv.reader(io.StringIO(_sample(text), newline=""),
                                              delimiter=sep)):
            if i >= _SAMPLE_ROWS:
                break
            for field in row:
                field = field.strip()
                comma += bool(_COMMA_DECIMAL.match(field))
                dot += bool(_DOT_DECIMAL.match(field))
    except csv.Error:
        return False
    return comma > 0 and dot == 0


def sep_name(sep: str) -> str:
    return {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}.get(sep, repr(sep))


def first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
