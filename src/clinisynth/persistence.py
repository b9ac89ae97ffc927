"""Saving and loading fitted models without pickle.

A model directory holds ``manifest.json`` (format, version, parameters, schema, encoder and
generator states as JSON) and ``arrays.npz`` (numpy arrays, read with ``allow_pickle=False``).
Loading builds objects from these two files only, so a model file handed over by someone else
cannot execute code. The directory is written atomically.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from clinisynth.errors import ClinisynthError
from clinisynth.io import atomic_dir

FORMAT = "clinisynth-model"
FORMAT_VERSION = 1
MANIFEST, ARRAYS = "manifest.json", "arrays.npz"


def write_model(path: str | Path, manifest: dict[str, Any], arrays: dict[str, np.ndarray]) -> None:
    """Write a model directory atomically."""
    manifest = {"format": FORMAT, "format_version": FORMAT_VERSION, **manifest}
    with atomic_dir(path) as tmp:
        (tmp / MANIFEST).write_text(json.dumps(manifest, indent=1, default=_json_default))
        np.savez_compressed(tmp / ARRAYS, **{k: np.asarray(v) for k, v in arrays.items()})


def read_model(path: str | Path) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Read a model directory; raise :class:`ClinisynthError` if it is not one of ours."""
    path = Path(path)
    if not (path / MANIFEST).is_file() or not (path / ARRAYS).is_file():
        raise ClinisynthError(f"'{path}' is not a clinisynth model directory")
    try:
        manifest = json.loads((path / MANIFEST).read_text())
    except json.JSONDecodeError:
        raise ClinisynthError(f"'{path / MANIFEST}' is not valid JSON") from None
    if manifest.get("format") != FORMAT:
        raise ClinisynthError(f"'{path}' is not a clinisynth model directory")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise ClinisynthError(
            f"'{path}' has model format {manifest.get('format_version')}; "
            f"this clinisynth reads format {FORMAT_VERSION}"
        )
    try:
        with np.load(path / ARRAYS, allow_pickle=False) as npz:
            arrays = {k: npz[k] for k in npz.files}
    except ValueError as exc:
        raise ClinisynthError(
            f"'{path / ARRAYS}' holds unsafe or unreadable arrays ({exc})") from None
    return manifest, arrays


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    raise TypeError(f"cannot store {type(value).__name__} in a model manifest")


def split_arrays(arrays: dict[str, np.ndarray], prefix: str) -> dict[str, np.ndarray]:
    """The arrays stored under ``prefix.``, with the prefix removed."""
    cut = len(prefix) + 1
    return {k[cut:]: v for k, v in arrays.items() if k.startswith(prefix + ".")}
