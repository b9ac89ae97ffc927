"""The step contract: every stage that learns from the training rows.

A synthesizer is a :class:`~clinisynth.pipeline.Pipeline` of steps (subsample -> protect ->
roles -> survival -> rules -> weight search -> encode -> mixture -> calibrate -> guard). Each
step is fitted once, on the output of the step before it, and is then frozen: everything after
``fit`` is a pure function of the step's state, its inputs and the ``rng`` it is given, so
chunks of a sample can be produced in any order, on any worker.

Contract, for a step ``s``:

* ``s.fit(batch, ctx)`` learns from the training rows ``batch`` (the previous step's output) and
  sets ``s.model_schema_``, the schema of the table its output describes; ``ctx``
  (:class:`FitContext`) carries the fit's random generator, the schema of ``batch``, the training
  rows at the record view and the steps fitted so far. Returns ``s``.
* ``s.fit_transform(batch, ctx)``: ``fit``, then the training rows as the next step sees them
  (``transform`` by default; a step that resamples the training rows overrides it, as
  imbalanced-learn's samplers do with ``fit_resample``).
* ``s.transform(batch, rng)``: forward, user side to model side; ``s.inverse_transform(batch,
  rng, draw)``: backward, on synthetic rows. Steps before the pipeline's source (the mixture) are
  inverted in reverse order on its draws; steps after it map the draws forward.
* ``s.check(frame)``: a filter's verdict on synthetic rows at the record view (the table without
  identifiers and free text, dates as numbers: what the guard protects and the rules constrain),
  or None for a step that filters nothing.
* ``s.get_state()`` returns JSON-able metadata and named numpy arrays;
  ``cls.from_state(meta, arrays)`` rebuilds the fitted step from them (never a pickle).
* ``reads`` says in one line what ``fit`` reads from the training rows: what a privacy budget
  charges the step for.

Steps are found by name through :data:`clinisynth.steps.STEPS`, so a saved model names the class
of each step and loading builds it from JSON and arrays only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from clinisynth.encoding import Block
from clinisynth.errors import ClinisynthError, NotFittedError
from clinisynth.schema import TableSchema

Arrays = dict[str, np.ndarray]
#: the progress callback ``(label, done, total)`` a fit reports to
Progress = Callable[[str, int, int], None]


@dataclass
class Batch:
    """Rows on their way through a pipeline: a table (``frame``), or an encoded matrix ``X``
    with class codes ``y`` whose column blocks are ``blocks``. ``rows`` are the positions in the
    chunk that a redrawn batch replaces (None: the batch is the chunk)."""

    frame: pd.DataFrame | None = None
    X: np.ndarray | None = None
    y: np.ndarray | None = None
    blocks: list[Block] | None = None
    rows: np.ndarray | None = None

    def with_frame(self, frame: pd.DataFrame) -> Batch:
        return replace(self, frame=frame, X=None, blocks=None)

    def with_matrix(self, X: np.ndarray, y: np.ndarray, blocks: list[Block] | None) -> Batch:
        return replace(self, X=X, y=y, blocks=blocks, frame=None)

    def table(self, who: str) -> pd.DataFrame:
        """The batch's table; a step that needs one says so if it got a matrix."""
        if self.frame is None:
            raise ClinisynthError(f"step '{who}' works on a table, not on an encoded matrix")
        return self.frame

    def matrix(self, who: str) -> tuple[np.ndarray, np.ndarray]:
        """The batch's ``(X, y)``; a step that needs them says so if it got a table."""
        if self.X is None or self.y is None:
            raise ClinisynthError(f"step '{who}' works on an encoded matrix, not on a table")
        return self.X, self.y


@dataclass
class Draw:
    """One chunk's scratch space, shared by its first draw and its redraws: each step may keep
    what it needs to treat a redraw like the rows it replaces (``notes[step name]``)."""

    notes: dict[str, Any] = field(default_factory=dict)
    #: the redraw round the batch on its way belongs to (0: the chunk's first draw)
    round: int = 0


@dataclass
class Verdict:
    """A filter's verdict on a batch at the record view: the rows it refuses and, per refused
    row, why (``reasons``, in the order of the refused rows)."""

    refused: np.ndarray
    reasons: np.ndarray


class Trial(Protocol):
    """Steps fitted on some record-view rows as a pipeline of their own (the weight search's
    trial copies of the steps after it)."""

    @property
    def source(self) -> Any:
        """The trial's fitted source (its mixture)."""

    def transform(self, frame: pd.DataFrame, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Record-view rows as the trial's source sees them (``X``, ``y``)."""

    def decode(self, X: np.ndarray, y: np.ndarray) -> pd.DataFrame:
        """Draws of the trial's source back to the record view."""


class Views(Protocol):
    """What a fitting step may ask of the pipeline fitting it (the steps fitted so far)."""

    def to_model(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Record-view rows through the fitted table steps after the record view (forward)."""

    def to_record(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Model-side rows back to the record view (the same steps, inverted)."""

    def trial(self, steps: list[Step], rows: pd.DataFrame, ctx: FitContext, label: str
              ) -> Trial:
        """``steps`` fitted, as a pipeline of their own, on the record-view ``rows`` brought to
        ``ctx``'s view (drawing from ``ctx.rng``; progress labels prefixed with ``label``)."""


@dataclass
class FitContext:
    """What a step's ``fit`` is given besides its batch.

    ``rng`` is the fit's one random generator (each step draws from it in turn, so the order of
    the steps fixes every draw); ``schema`` describes the batch; ``record`` and ``record_schema``
    are the training rows at the record view once the pipeline has passed it; ``fitted`` maps the
    names of the steps fitted so far to them; ``views`` moves tables between the record view and
    this step's input; ``progress`` reports long work.
    """

    rng: np.random.Generator
    schema: TableSchema
    record: pd.DataFrame | None = None
    record_schema: TableSchema | None = None
    fitted: dict[str, Step] = field(default_factory=dict)
    views: Views | None = None
    progress: Progress | None = None
    #: choices a step makes for the steps after it (the weight search's learned weights)
    choices: dict[str, Any] = field(default_factory=dict)
    #: DP mode: the privacy ledger (:class:`clinisynth.dp.PrivacyLedger`), the only way to the
    #: training rows, which then come as :class:`clinisynth.dp.Sensitive`
    ledger: Any = None

    def report(self, label: str, done: int, total: int) -> None:
        if self.progress is not None:
            self.progress(label, done, total)

    @property
    def source(self) -> Source:
        """The fitted source (for a step after it that learns from its draws)."""
        for step in self.fitted.values():
            if step.is_source:
                return step  # type: ignore[return-value]
        raise ClinisynthError("no fitted source (mixture) before this step")


class Step(ABC):
    """Base class of the pipeline's steps. Parameters are set in ``__init__`` only."""

    name: ClassVar[str]
    #: what ``fit`` reads from the training rows (what a privacy ledger charges)
    reads: ClassVar[str]
    #: True for the one step a pipeline draws synthetic rows from (see ``Source``)
    is_source: ClassVar[bool] = False
    #: True for the steps that build the record view from the user's table (subsample, protect,
    #: roles):
    #: they come first, and their inverses run after the filters
    builds_record: ClassVar[bool] = False
    #: filters only (steps whose ``check`` refuses rows): True for a hard filter, which never
    #: lets a refused row out, False for a soft one (see ``Filter``); None: not a filter
    hard: ClassVar[bool | None] = None

    @abstractmethod
    def fit(self, batch: Batch, ctx: FitContext) -> Step:
        """Learn from the training rows; set ``model_schema_``; return ``self``."""

    def fit_transform(self, batch: Batch, ctx: FitContext) -> Batch:
        """Fit, then the training rows as the next step sees them."""
        return self.fit(batch, ctx).transform(batch, ctx.rng)

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        """Forward (user side to model side); the identity by default."""
        return batch

    def inverse_transform(self, batch: Batch, rng: np.random.Generator, draw: Draw) -> Batch:
        """Backward, on synthetic rows; the identity by default."""
        return batch

    def check(self, frame: pd.DataFrame) -> Verdict | None:
        """Filters: the rows of a record-view table this step refuses; None if it filters
        nothing."""
        return None

    def report(self) -> dict[str, Any]:
        """What the step learned, for the audit and the CLI summary (JSON-able)."""
        return {}

    @abstractmethod
    def get_state(self) -> tuple[dict[str, Any], Arrays]:
        """JSON-able metadata and named arrays that rebuild the fitted step."""

    @classmethod
    @abstractmethod
    def from_state(cls, meta: dict[str, Any], arrays: Arrays) -> Step:
        """Rebuild a fitted step from :meth:`get_state`'s output."""

    def _check_fitted(self) -> None:
        if not hasattr(self, "model_schema_"):
            raise NotFittedError(f"step '{self.name}' is not fitted; call fit first")


class TableStep(Step):
    """A step that maps tables to tables (roles, survival, rules): it implements the table
    hooks, and the batch plumbing is done here once."""

    @abstractmethod
    def fit_table(self, real: pd.DataFrame, schema: TableSchema) -> TableStep:
        """Learn from the real table (schema ``schema``); set ``model_schema_``."""

    @abstractmethod
    def transform_table(self, frame: pd.DataFrame) -> pd.DataFrame:
        """User-side table -> model-side table (columns of ``model_schema_``)."""

    @abstractmethod
    def inverse_table(self, frame: pd.DataFrame, rng: np.random.Generator) -> pd.DataFrame:
        """Model-side table -> user-side table (the input's columns, order and dtypes)."""

    def fit(self, batch: Batch, ctx: FitContext) -> TableStep:
        return self.fit_table(batch.table(self.name), ctx.schema)

    def transform(self, batch: Batch, rng: np.random.Generator) -> Batch:
        with self._columns_named():
            return batch.with_frame(self.transform_table(batch.table(self.name)))

    def inverse_transform(self, batch: Batch, rng: np.random.Generator, draw: Draw) -> Batch:
        with self._columns_named():
            return batch.with_frame(self.inverse_table(batch.table(self.name), rng))

    @contextmanager
    def _columns_named(self) -> Iterator[None]:
        """A table without a column the step needs: one line naming the column."""
        try:
            yield
        except KeyError as exc:
            raise ClinisynthError(f"step '{self.name}': column {exc} is missing from the "
                                  "table") from None


class FilterReport(Protocol):
    """What a filter counts over one ``sample`` call (summed over its chunks with ``add``)."""

    rounds: int
    fallback: int
    remaining: int

    def count(self, reasons: np.ndarray) -> None: ...

    def add(self, other: Any) -> None: ...


class Filter(Protocol):
    """What the pipeline's redraw loop asks of a step whose ``check`` refuses rows."""

    name: str
    #: a hard filter never lets a refused row out (the sample fails instead); a soft one stops
    #: redrawing after ``max_rounds`` and counts the rows left
    hard: bool
    max_rounds: int

    def check(self, frame: pd.DataFrame) -> Verdict | None: ...

    def new_report(self) -> FilterReport: ...

    def exhausted(self, refused: int, fallback_rounds: int) -> str: ...


class Source(Protocol):
    """The step a pipeline draws rows from (the mixture of generators)."""

    def draw(self, counts: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
        """Encoded rows: ``counts[k]`` of class ``k``, grouped by generator."""

    def redraw(self, y: np.ndarray, rng: np.random.Generator, fallback: bool) -> np.ndarray:
        """Fresh encoded rows of classes ``y``, in that order (``fallback``: only from the
        generators that do not resample real rows)."""
