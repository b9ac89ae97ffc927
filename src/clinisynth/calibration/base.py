"""The calibrator contract: per class, monotone maps of the numeric columns onto the real class.

A calibrator is fitted on the real encoded matrix (it keeps a bounded per-class
:class:`~clinisynth.calibration.reference.Reference`, never rows) and transforms a synthetic
matrix: for every class ``k`` present in ``y`` and every calibrated column ``j`` it applies a
non-decreasing map ``x -> g_kj(x)`` to that class's values; every other column is copied as is.
Because each map is monotone, the order of the values of each column within a class, and hence
the within-class Spearman rank correlations and the rows' relation to the class, are unchanged
(up to ties a flat stretch of a map may create).

The base class owns validation, the per-class loop and persistence; a concrete calibrator sets
``name``, stores its parameters in ``__init__``, checks them in ``check_params`` and implements
``_transform_class`` (one class's block, m × C, to the calibrated block).
"""

from __future__ import annotations

import inspect
import numbers
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np

from clinisynth.calibration.reference import (
    DEFAULT_QUANTILES,
    Arrays,
    ClassReference,
    Reference,
    check_xy,
)
from clinisynth.errors import ClinisynthError, NotFittedError


class BaseCalibrator(ABC):
    """Base class of the post-hoc calibrators. Parameters are set in ``__init__`` only."""

    name: ClassVar[str]

    # -- parameters (scikit-learn style) ---------------------------------------------------------
    def get_params(self) -> dict[str, Any]:
        names = [p for p in inspect.signature(type(self).__init__).parameters
                 if p not in ("self", "args", "kwargs")]
        return {p: getattr(self, p) for p in names}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.get_params().items())
        return f"{type(self).__name__}({args})"

    def check_params(self) -> None:
        """Raise :class:`ClinisynthError` naming the option if a parameter is invalid."""
        return None

    # -- lifecycle ------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, columns: Sequence[int],
            n_quantiles: int = DEFAULT_QUANTILES) -> BaseCalibrator:
        """Summarise the real matrix ``X`` (class codes ``y``) on ``columns`` as the target."""
        self.check_params()
        return self.fit_reference(Reference.from_data(X, y, columns, n_quantiles, who=self.name))

    def fit_reference(self, reference: Reference) -> BaseCalibrator:
        """Use an already built reference (a chain builds one and shares it with every step)."""
        self.check_params()
        self.reference_ = reference
        return self

    def transform(self, X: np.ndarray, y: np.ndarray) -> np.ndarray:
        """A calibrated copy of ``X``: per class in ``y``, each calibrated column mapped."""
        ref = self._reference()
        X, y = check_batch(ref, X, y, self.name)
        out = X.copy()
        self._reset_diagnostics()
        if not len(ref.columns):
            return out
        for k in np.unique(y):
            index = np.ix_(np.flatnonzero(y == k), ref.columns)
            out[index] = self._transform_class(out[index], ref.for_class(int(k)), int(k))
        return out

    def ks(self, X: np.ndarray, y: np.ndarray) -> dict[int, np.ndarray]:
        """Per class in ``y``: the KS distance of each calibrated column to the real class."""
        return class_ks(self._reference(), X, y, self.name)

    @abstractmethod
    def _transform_class(self, x: np.ndarray, ref: ClassReference, k: int) -> np.ndarray:
        """Map one class's block ``x`` (m × C, m >= 1) column by column, monotonically."""

    def _reset_diagnostics(self) -> None:
        """Clear what the last ``transform`` recorded (e.g. iterations, alphas)."""
        return None

    def _reference(self) -> Reference:
        if not hasattr(self, "reference_"):
            raise NotFittedError(f"{self.name} calibrator is not fitted; call fit first")
        return self.reference_

    # -- persistence ----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-able state and named arrays; together they rebuild the fitted calibrator."""
        ref_meta, arrays = self._reference().get_state()
        return {"name": self.name, "params": self.get_params(), "reference": ref_meta}, arrays

    @classmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> BaseCalibrator:
        if meta.get("name") != cls.name:
            raise ClinisynthError(f"state of calibrator '{meta.get('name')}' cannot be loaded "
                                  f"as '{cls.name}'")
        cal = cls(**meta["params"])
        return cal.fit_reference(Reference.from_state(meta["reference"], arrays))


# -- shared checks --------------------------------------------------------------------------------
def check_batch(ref: Reference, X: np.ndarray, y: np.ndarray,
                who: str) -> tuple[np.ndarray, np.ndarray]:
    """Validate a synthetic batch against the fitted reference."""
    X, y = check_xy(X, y, who, "synthetic")
    if X.shape[1] != ref.n_features:
        raise ClinisynthError(f"{who}: X has {X.shape[1]} columns, but fit saw {ref.n_features}")
    unseen = np.setdiff1d(np.unique(y), ref.classes)
    if len(unseen):
        raise ClinisynthError(f"{who}: class code {int(unseen[0])} was not seen in fit")
    if not np.isfinite(X[:, ref.columns]).all():
        raise ClinisynthError(f"{who}: the synthetic matrix has missing or infinite values "
                              "in the calibrated columns")
    return X, y


def class_ks(ref: Reference, X: np.ndarray, y: np.ndarray, who: str) -> dict[int, np.ndarray]:
    """``{k: KS of each calibrated column of class k's rows to the real class k}``."""
    X, y = check_batch(ref, X, y, who)
    return {int(k): ref.for_class(int(k)).ks(X[np.ix_(y == k, ref.columns)])
            for k in np.unique(y)}


def check_fraction(who: str, option: str, value: Any) -> None:
    """``value`` must be a real number in ``[0, 1]``."""
    if not _is_real(value) or not 0.0 <= float(value) <= 1.0:
        raise ClinisynthError(f"{who}: {option} must be a number in [0, 1], got {value!r}")


def check_positive(who: str, option: str, value: Any, integer: bool = False) -> None:
    """``value`` must be a positive real number (a positive integer if ``integer``)."""
    ok = (isinstance(value, numbers.Integral) and not isinstance(value, bool)) if integer \
        else _is_real(value)
    if not ok or not float(value) > 0:
        kind = "a positive integer" if integer else "a positive number"
        raise ClinisynthError(f"{who}: {option} must be {kind}, got {value!r}")


def _is_real(value: Any) -> bool:
    return (isinstance(value, numbers.Real) and not isinstance(value, bool)
            and bool(np.isfinite(float(value))))
