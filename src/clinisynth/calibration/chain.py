"""Calibrators composed in order, fitted on one shared reference of the real data.

``fit`` summarises the real matrix once (:class:`~clinisynth.calibration.reference.Reference`)
and hands it to every step; ``transform`` applies the steps in order. A composition of monotone
maps is monotone, so the chain keeps within-class ranks like each of its steps. After a
``transform``, :attr:`report` lists the mean and largest per-class KS distance of the calibrated
columns to the real class, before any step and after each one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from clinisynth.calibration.base import BaseCalibrator, check_batch, class_ks
from clinisynth.calibration.reference import DEFAULT_QUANTILES, Arrays, Reference
from clinisynth.calibration.registry import make_calibrator
from clinisynth.errors import ClinisynthError, NotFittedError

WHO = "calibration"


class CalibrationChain:
    """Steps named in ``steps`` (registered calibrators), applied in order.

    Parameters
    ----------
    steps : list of calibrator names, e.g. ``["moment", "adaptive_soft"]``; a single name is one
        step and an empty list calibrates nothing.
    params : mapping ``{name: {param: value}}``, optional
        Constructor arguments per step name (a name used twice gets the same arguments).
    """

    def __init__(self, steps: Sequence[str] | str = ("histogram",),
                 params: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        names = [steps] if isinstance(steps, str) else list(steps)
        self.steps = names
        self.params = {str(k): dict(v) for k, v in (params or {}).items()}
        for name in self.params:
            if name not in names:
                raise ClinisynthError(f"{WHO} params: '{name}' is not a step of the chain "
                                      f"(steps: {', '.join(names) or 'none'})")
        self.calibrators: list[BaseCalibrator] = [make_calibrator(n, self.params.get(n))
                                                  for n in names]

    def __repr__(self) -> str:
        return f"CalibrationChain(steps={self.steps!r}, params={self.params!r})"

    # -- lifecycle ------------------------------------------------------------------------------
    def fit(self, X: np.ndarray, y: np.ndarray, columns: Sequence[int],
            n_quantiles: int = DEFAULT_QUANTILES, smoothing: float = 0.0, k: int = 5,
            unsmoothed: Sequence[int] = ()) -> CalibrationChain:
        """Summarise the real matrix once on ``columns`` and share it with every step
        (``smoothing``, ``k``, ``unsmoothed``: see :meth:`Reference.from_data`)."""
        return self.fit_reference(Reference.from_data(X, y, columns, n_quantiles, who=WHO,
                                                      smoothing=smoothing, k=k,
                                                      unsmoothed=unsmoothed))

    def fit_reference(self, reference: Reference) -> CalibrationChain:
        self.reference_ = reference
        for cal in self.calibrators:
            cal.fit_reference(reference)
        return self

    def transform(self, X: np.ndarray, y: np.ndarray, *, report: bool = True) -> np.ndarray:
        """Apply every step in order to a copy of ``X``.

        With ``report`` (the default) the KS distances before and after each step are recorded
        in :attr:`report`; pass ``report=False`` in tight loops to skip that work.
        """
        ref = self._reference()
        X, y = check_batch(ref, X, y, WHO)
        summary = [_summary("input", class_ks(ref, X, y, WHO))] if report else []
        out = X.copy()
        for cal in self.calibrators:
            out = cal.transform(out, y)
            if report:
                summary.append(_summary(cal.name, class_ks(ref, out, y, WHO)))
        if report:
            self.report_ = summary
        elif hasattr(self, "report_"):
            del self.report_
        return out

    @property
    def report(self) -> list[dict[str, Any]]:
        """``[{"step", "mean_ks", "max_ks"}, ...]``: "input" first, then each step, in order.

        Per-class KS distances of the calibrated columns to the real class, averaged (and the
        largest) over classes and columns, for the last ``transform``.
        """
        if not hasattr(self, "report_"):
            raise NotFittedError("calibration report: call transform (with report=True) first")
        return self.report_

    def ks(self, X: np.ndarray, y: np.ndarray) -> dict[int, np.ndarray]:
        """Per class in ``y``: the KS distance of each calibrated column to the real class."""
        return class_ks(self._reference(), X, y, WHO)

    def _reference(self) -> Reference:
        if not hasattr(self, "reference_"):
            raise NotFittedError("calibration chain is not fitted; call fit first")
        return self.reference_

    # -- persistence ----------------------------------------------------------------------------
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-able state (steps, params, reference metadata) and the reference's arrays."""
        ref_meta, arrays = self._reference().get_state()
        state = {"steps": list(self.steps), "params": self.params, "reference": ref_meta}
        return state, {f"reference.{k}": v for k, v in arrays.items()}

    @classmethod
    def from_state(cls, state: dict[str, Any], arrays: Arrays) -> CalibrationChain:
        """Rebuild a fitted chain from :meth:`get_state`'s output (no pickle)."""
        chain = cls(state["steps"], state.get("params"))
        cut = len("reference.")
        ref_arrays = {k[cut:]: v for k, v in arrays.items() if k.startswith("reference.")}
        return chain.fit_reference(Reference.from_state(state["reference"], ref_arrays))


def _summary(step: str, ks: dict[int, np.ndarray]) -> dict[str, Any]:
    values = np.concatenate(list(ks.values())) if ks else np.zeros(0)
    mean = float(values.mean()) if values.size else 0.0
    top = float(values.max()) if values.size else 0.0
    return {"step": step, "mean_ks": mean, "max_ks": top}
