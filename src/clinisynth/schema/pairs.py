"""Choosing the survival pairs by the data's structure, with names as hints.

A candidate pair is a duration ``T`` (a numeric column, never negative, with at least
:data:`MIN_DURATION_VALUES` values) and an event indicator ``E`` (a discrete column of at most
four codes, the target included) with one code ``v`` as the event. What the data shows:

* **separation**: in a cohort followed to a common close, events end follow-up early and
  censored patients cluster at the close, so ``P(T of a censored row > T of an event row)``
  (ties count half; the Mann-Whitney statistic) is well above one half; for an unrelated
  column it is near one half. The event code is the one that separates best.
* **nesting**: two durations of one patient nest: the inner never passes the outer, and equals
  it where the inner event did not happen (time to progression and follow-up, a hospital stay
  and the follow-up after admission, when the patient died in hospital). Such a pair of columns
  (``<=`` on every row, ``==`` and positive on at least :data:`MIN_EQUAL_SHARE` of them,
  and an event indicator telling the early rows from the equal ones on at least
  :data:`MIN_EXPLAINED` of them, or one of the two named like a time) marks both as
  durations, whatever the other's name (an age never equals a stay). The primary pair is the outer,
  and an inner duration named like a stay (``los``, ``stay``, ``length``) is not a follow-up.
* **names**: a time named like :data:`TIME_NAMES` and an event named like :data:`EVENT_NAMES`
  are hints that add to the score. A pair whose names both match is taken even when its
  separation says little; one found by structure needs a duration (a time-like name or a
  nesting) and a clear separation (:data:`MIN_SEPARATION`), since any covariate separates some
  binary column (age and menopause).
* **early events**: events end follow-up from its start on, so the first tenth of the event
  rows lies below :data:`EARLY_EVENTS` of the median time, with fewer than half of them at the
  column's minimum (:func:`ends_early`). A candidate whose events do not (a race time by sex,
  an age by group) is no pair whatever its names, unless a nesting shows it is a duration.
* **paired names**: a time and an indicator named as one pair, in no language in particular
  (``t.tdm`` and ``e.tdm``, ``T3`` and ``D3``, ``srv`` and ``srv.s``, ``rel`` and ``edrel``:
  :func:`paired_names`), are a pair when the data also shows one: a clear separation that is
  not a threshold of the column (below :data:`MAX_PAIRED_SEPARATION`: ``age`` and ``agegrp``
  separate perfectly), and early events.
  ``benchmarks/pair_detection.py`` counts what this finds on public survival tables and on
  tables without follow-up.

:func:`pair_candidates` ranks every candidate (each printed with its score by ``clinisynth
schema`` and ``fit``, the runner-up included); :func:`infer_survival` keeps the best pair and
every other clear pair of a different duration and event (a competing or nested outcome).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from clinisynth.schema.columns import DISCRETE_KINDS, UNMODELLED_ROLES
from clinisynth.schema.table import TableSchema
from clinisynth.values import category_codes

#: name tokens of a follow-up time, best first (a token matches when it starts with one)
TIME_NAMES = ("futime", "time", "survival", "surv", "follow", "fu", "tte", "days", "los",
              "stay", "duration", "months")
#: name tokens of an event indicator, best first
EVENT_NAMES = ("death", "died", "dead", "deceased", "status", "event", "censor", "cens",
               "fustat", "vital", "mortality")
#: name tokens of a length of stay: an inner duration, not a follow-up
STAY_NAMES = ("los", "stay", "length", "lengthofstay")
#: distinct values a duration needs
MIN_DURATION_VALUES = 10
#: separation a pair found by structure alone (no name hint for both) needs
MIN_SEPARATION = 0.65
#: score a further pair (beyond the first) needs
MIN_FURTHER_SCORE = 0.75
#: rows each side of the event indicator needs before its separation counts
MIN_SIDE_ROWS = 5
#: share of rows on which nested durations are equal (the inner event did not happen)
MIN_EQUAL_SHARE = 0.01
#: share of rows an event indicator must sort into "inner ends early" and "equal"
MIN_EXPLAINED = 0.9
#: separation at which a paired-name indicator is a threshold of the column, not its event
MAX_PAIRED_SEPARATION = 0.99
#: the event rows' first decile must lie below this share of the median follow-up
EARLY_EVENTS = 0.35
#: score a paired-name pair gains (a time-like name gains 0.25, an event-like name 0.15)
PAIRED_BONUS = 0.2


@dataclass(frozen=True)
class PairCandidate:
    """One (duration, event) candidate and what the data says of it."""

    time: str
    event: str
    event_value: Any
    separation: float
    named: bool
    nested_in: str | None
    score: float
    #: the event tells where the duration ends before the one it nests in
    explains: bool = False
    #: the two names read as one pair and the events end early (:func:`paired_names`)
    paired: bool = False

    def pair(self) -> dict[str, Any]:
        return {"time": self.time, "event": self.event, "event_values": [self.event_value]}

    def describe(self) -> str:
        inner = f", inside {self.nested_in}" if self.nested_in else ""
        inner += f" and {self.event} tells where it ends first" if self.explains else ""
        names = ", names match" if self.named else ", names pair up" if self.paired else ""
        return (f"{self.time} / {self.event}={self.event_value!r} (separation "
                f"{self.separation:.2f}{names}{inner}; score {self.score:.2f})")


def name_rank(name: str, patterns: tuple[str, ...]) -> int | None:
    """Index of the first pattern some token of ``name`` starts with, or None."""
    tokens = [t for t in re.split(r"[^a-z0-9]+", name.lower()) if t]
    ranks = [i for i, p in enumerate(patterns) for t in tokens if t.startswith(p)]
    return min(ranks) if ranks else None


def paired_names(time: str, event: str) -> bool:
    """Whether two column names read as one pair: equal but for their first character
    (``t1``/``d1``, ``t.tdm``/``e.tdm``), or the shorter, of at least three characters,
    starting or ending the longer (``srv``/``srv.s``, ``rel``/``edrel``); case ignored."""
    a, b = time.lower(), event.lower()
    if a == b:
        return False
    if len(a) > 1 and a[1:] == b[1:]:
        return True
    short, long_ = sorted((a, b), key=len)
    return len(short) >= 3 and (long_.startswith(short) or long_.endswith(short))


def ends_early(t: np.ndarray, codes: np.ndarray, schema: TableSchema, event: str,
               value: Any) -> bool:
    """Whether the rows with ``event == value`` end early as events do: their first decile
    of ``t`` below :data:`EARLY_EVENTS` of the median, fewer than half at the minimum."""
    kept, is_event = _event_rows(t, codes, schema, event, value)
    hit = kept[is_event]
    median = float(np.median(kept)) if len(kept) else 0.0
    if len(hit) < MIN_SIDE_ROWS or median <= 0:
        return True  # too few events to tell (separation says so for a structural pair)
    return bool(np.quantile(hit, 0.1) <= EARLY_EVENTS * median
                and np.mean(hit <= np.min(kept)) < 0.5)


def pair_candidates(schema: TableSchema, frame: pd.DataFrame | None = None
                    ) -> list[PairCandidate]:
    """Every (duration, event) candidate, best first (names only when no ``frame``)."""
    durations = [c.name for c in schema.columns if c.is_numeric and c.role not in
                 UNMODELLED_ROLES and c.min is not None and c.min >= 0 and not c.is_constant]
    if frame is not None:
        durations = [d for d in durations if frame[d].nunique() >= MIN_DURATION_VALUES]
    events = [c.name for c in schema.columns if c.kind in DISCRETE_KINDS
              and c.role not in UNMODELLED_ROLES and 2 <= len(c.categories or []) <= 4]
    times = {d: pd.to_numeric(frame[d], errors="coerce").to_numpy(dtype=float)
             for d in durations} if frame is not None else {}
    codes = {e: category_codes(frame[e], list(schema[e].categories or []))
             for e in events} if frame is not None else None
    explained: dict[str, tuple[str, Any]] = {}
    nested: dict[str, str | None] = {}
    for d in durations:
        outer = _outer(d, times)
        why = _explained(times[d], times[outer], codes, schema, events) if outer else None
        hinted = outer is not None and any(name_rank(c, TIME_NAMES) is not None
                                           for c in (d, outer))
        nested[d] = outer if why is not None or hinted else None
        if why is not None:
            explained[d] = why
    inner = {outer for outer in nested.values() if outer is not None}
    out = []
    for time in durations:
        t_rank = name_rank(time, TIME_NAMES)
        duration = t_rank is not None or nested[time] is not None or time in inner
        for event in events:
            if event == time:
                continue
            e_rank = name_rank(event, EVENT_NAMES)
            event_named = e_rank is not None or (event == schema.target
                                                 and schema[event].kind == "binary")
            event_codes = None if codes is None else codes[event]
            value, separation = _best_code(times.get(time), event_codes, schema, event)
            if explained.get(time, (None,))[0] == event:  # the event that ends it early
                value = explained[time][1]
                separation = _separation_of(times[time], event_codes, schema, event, value)
            named = t_rank is not None and event_named
            early = codes is None or ends_early(times[time], codes[event], schema, event,
                                                value)
            paired = (codes is not None and paired_names(time, event) and early
                      and MIN_SEPARATION <= separation < MAX_PAIRED_SEPARATION)
            score = separation + (0.25 - 0.01 * t_rank if t_rank is not None else 0.0) \
                + (0.15 if e_rank is not None else 0.05 if event_named else 0.0) \
                + (PAIRED_BONUS if paired else 0.0)
            outer = nested.get(time)
            if outer is not None:
                score -= 0.3 + (0.2 if name_rank(time, STAY_NAMES) is not None else 0.0)
            explains = explained.get(time, (None,))[0] == event
            if not (early or explains or outer is not None):
                continue  # no event ends early: a measurement (run time by sex), not follow-up
            if named or explains or paired or (duration and separation >= MIN_SEPARATION):
                out.append(PairCandidate(time, event, value, separation, named, outer, score,
                                         explains, paired))
    return sorted(out, key=lambda c: -c.score)


def infer_survival(schema: TableSchema, frame: pd.DataFrame | None = None
                   ) -> list[dict[str, Any]] | None:
    """The best pair, then every further pair whose duration nests with a chosen one (inside
    it or around it), with another event, and whose separation is clear (and its score, unless
    the pair's own nesting shows it is a duration); None when no candidate qualifies."""
    chosen: list[PairCandidate] = []
    ranked = pair_candidates(schema, frame)
    nests = {(c.time, c.nested_in) for c in ranked if c.nested_in is not None}
    for cand in ranked:
        related = any((cand.time, c.time) in nests or (c.time, cand.time) in nests
                      for c in chosen)
        clear = (cand.score >= MIN_FURTHER_SCORE and cand.separation >= MIN_SEPARATION
                 or cand.explains and name_rank(cand.time, STAY_NAMES) is None)
        if not chosen or related and clear and all(
                cand.time != c.time and cand.event != c.event for c in chosen):
            chosen.append(cand)
    return [c.pair() for c in chosen] or None


def _best_code(t: np.ndarray | None, codes: np.ndarray | None, schema: TableSchema,
               event: str) -> tuple[Any, float]:
    """The event code whose rows end earliest against the others, and that separation; the
    last category (``1``, ``True``, ``"dead"``) when no code separates clearly (at least
    :data:`MIN_SEPARATION`) or without data. ``codes``: :func:`category_codes` of ``event``."""
    cats = list(schema[event].categories or [])
    if t is None or codes is None:
        return cats[-1], 0.5
    ok = np.isfinite(t) & (codes >= 0)
    kept, ranks = codes[ok], _ranks(t[ok])
    found = [(cats[i], _separation(ranks, kept == i)) for i in reversed(range(len(cats)))]
    best = max(found, key=lambda vs: vs[1])
    return best if best[1] >= MIN_SEPARATION else found[0]


def _ranks(t: np.ndarray) -> np.ndarray:
    """Average ranks of ``t`` (ties share their mean rank)."""
    return pd.Series(t).rank(method="average").to_numpy()


def _separation(ranks: np.ndarray, is_event: np.ndarray) -> float:
    """``P(T of a censored row > T of an event row)``, ties half (0.5 with too few rows), from
    the ranks of T (the Mann-Whitney U of the censored rows over ``n_event · n_censored``)."""
    n_event, n_censored = int(is_event.sum()), int((~is_event).sum())
    if n_event < MIN_SIDE_ROWS or n_censored < MIN_SIDE_ROWS:
        return 0.5
    censored_ranks = ranks[~is_event].sum() - n_censored * (n_censored + 1) / 2
    return float(censored_ranks / (n_event * n_censored))


def _explained(inner: np.ndarray, outer: np.ndarray, codes: dict[str, np.ndarray] | None,
               schema: TableSchema, events: list[str]) -> tuple[str, Any] | None:
    """The event indicator and code that tell the rows where ``inner`` ends before ``outer``
    (the inner event happened) from those where they are equal, on at least
    :data:`MIN_EXPLAINED` of the rows (the best such), or None: what makes two nested columns
    durations rather than two measurements. ``codes``: each event's :func:`category_codes`."""
    if codes is None:
        return None
    both = np.isfinite(inner) & np.isfinite(outer)
    early = inner[both] < outer[both]
    best, best_share = None, MIN_EXPLAINED
    for event in events:
        kept = codes[event][both]
        for i, value in enumerate(schema[event].categories or []):
            share = float(np.mean(early == (kept == i)))
            if share >= best_share:
                best, best_share = (event, value), share
    return best


def _separation_of(t: np.ndarray, codes: np.ndarray, schema: TableSchema, event: str,
                   value: Any) -> float:
    """Separation of ``t`` by ``event == value`` (``codes``: :func:`category_codes` of it)."""
    kept, is_event = _event_rows(t, codes, schema, event, value)
    return _separation(_ranks(kept), is_event)


def _event_rows(t: np.ndarray, codes: np.ndarray, schema: TableSchema, event: str,
                value: Any) -> tuple[np.ndarray, np.ndarray]:
    """The times of the rows with both a time and an event code, and which of them have
    ``event == value`` (``codes``: :func:`category_codes` of ``event``)."""
    index = category_codes(pd.Series([value], dtype=object),
                           list(schema[event].categories or []))[0]
    ok = np.isfinite(t) & (codes >= 0)
    return t[ok], codes[ok] == index


def _outer(name: str, times: dict[str, np.ndarray]) -> str | None:
    """The duration ``name`` nests in: ``<=`` it on every row holding both, above it on some,
    equal and positive on at least :data:`MIN_EQUAL_SHARE` (the tightest such, fewest rows
    apart); None."""
    t = times.get(name)
    if t is None:
        return None
    best, best_apart = None, 2.0
    for other, u in times.items():
        both = np.isfinite(t) & np.isfinite(u)
        if other == name or both.sum() < 2 or not np.all(t[both] <= u[both]):
            continue
        equal = float(np.mean((t[both] == u[both]) & (t[both] > 0)))  # 0 = 0 says nothing
        if MIN_EQUAL_SHARE <= equal < 1.0 and 1.0 - equal < best_apart:
            best, best_apart = other, 1.0 - equal
    return best
