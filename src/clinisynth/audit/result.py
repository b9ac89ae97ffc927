"""Typed results of an audit, the headline scores, and the range and direction of every score.

:data:`DIRECTIONS` maps each headline key to ``(range_text, direction)`` where direction is one
of ``"higher"``, ``"lower"``, ``"closer to 0.5"``, ``"closer to 0.02"`` or ``"baseline"`` (a
reference value, not a score). :data:`LEGEND` does the same for every other score name that
appears in the JSON.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from clinisynth.audit.risk import RiskResult
from clinisynth.io import write_text_atomic

HEADLINE_KEYS: tuple[str, ...] = (
    "ks_mean", "wasserstein_mean", "tv_mean", "pair_trend", "contingency_similarity",
    "corr_frobenius", "detection_auc", "trtr_accuracy", "tstr_accuracy", "trtr_f1", "tstr_f1",
    "trtr_auc", "tstr_auc", "tstr_trtr_f1_ratio", "dcr_median", "dcr_share", "exact_copies",
    "holdout_exact_copies", "nnaa_train", "nnaa_holdout", "privacy_loss", "mia_auc",
    "calibrated_dcr", "singling_out_risk", "linkability_risk", "inference_risk",
)

#: headline key -> (range, direction)
DIRECTIONS: dict[str, tuple[str, str]] = {
    "ks_mean": ("0 to 1", "lower"),
    "wasserstein_mean": ("0 upward, in real-range units", "lower"),
    "tv_mean": ("0 to 1", "lower"),
    "pair_trend": ("0 to 1", "higher"),
    "contingency_similarity": ("0 to 1", "higher"),
    "corr_frobenius": ("0 upward", "lower"),
    "detection_auc": ("0 to 1, 0.5 = indistinguishable", "closer to 0.5"),
    "trtr_accuracy": ("0 to 1", "higher"),
    "tstr_accuracy": ("0 to 1", "higher"),
    "trtr_f1": ("0 to 1", "higher"),
    "tstr_f1": ("0 to 1", "higher"),
    "trtr_auc": ("0 to 1", "higher"),
    "tstr_auc": ("0 to 1", "higher"),
    "tstr_trtr_f1_ratio": ("0 upward, 1 = as useful as real", "higher"),
    "dcr_median": ("0 upward", "higher"),
    "dcr_share": ("0 to 1, 0.5 = no memorisation", "closer to 0.5"),
    "exact_copies": ("count, 0 upward", "lower"),
    "holdout_exact_copies": ("count, 0 upward", "baseline"),
    "nnaa_train": ("0 to 1, 0.5 = indistinguishable", "closer to 0.5"),
    "nnaa_holdout": ("0 to 1, 0.5 = indistinguishable", "closer to 0.5"),
    "privacy_loss": ("-1 to 1, 0 = no leak", "lower"),
    "mia_auc": ("0 to 1, 0.5 = no leakage", "closer to 0.5"),
    "calibrated_dcr": ("0 to 1, 0.02 = like fresh patients", "closer to 0.02"),
    "singling_out_risk": ("0 to 1, 0 = no leak", "lower"),
    "linkability_risk": ("0 to 1, 0 = no leak", "lower"),
    "inference_risk": ("0 to 1, 0 = no leak", "lower"),
}

#: headline key -> what it measures, one line (for the report and the CLI)
LABELS: dict[str, str] = {
    "ks_mean": "mean Kolmogorov-Smirnov statistic, numeric columns",
    "wasserstein_mean": "mean Wasserstein distance, range-normalised numeric columns",
    "tv_mean": "mean total variation distance, categorical columns",
    "pair_trend": "mean correlation similarity 1 - |r_real - r_syn|/2, numeric pairs",
    "contingency_similarity": "mean contingency similarity, categorical pairs",
    "corr_frobenius": "Frobenius norm of the correlation-matrix difference",
    "detection_auc": "real-vs-synthetic classifier AUC (5-fold CV)",
    "trtr_accuracy": "accuracy, train real / test holdout (random forest)",
    "tstr_accuracy": "accuracy, train synthetic / test holdout (random forest)",
    "trtr_f1": "macro-F1, train real / test holdout (random forest)",
    "tstr_f1": "macro-F1, train synthetic / test holdout (random forest)",
    "trtr_auc": "ROC-AUC, train real / test holdout (random forest)",
    "tstr_auc": "ROC-AUC, train synthetic / test holdout (random forest)",
    "tstr_trtr_f1_ratio": "TSTR / TRTR macro-F1 (random forest)",
    "dcr_median": "median distance from a synthetic row to its closest train row",
    "dcr_share": "share of synthetic rows closer to train than to holdout (equal sizes)",
    "exact_copies": "synthetic rows identical to a row of the train sample",
    "holdout_exact_copies": "same count against the equal-size holdout sample (baseline)",
    "nnaa_train": "nearest-neighbour adversarial accuracy, synthetic vs train",
    "nnaa_holdout": "nearest-neighbour adversarial accuracy, synthetic vs holdout",
    "privacy_loss": "NNAA holdout - NNAA train (positive = leak)",
    "mia_auc": "distance-based membership-inference attack AUC",
    "calibrated_dcr": "share of synthetic rows closer to train than the 2nd percentile of "
                      "holdout-to-train distances",
    "singling_out_risk": "multivariate singling out: predicates isolating one training patient, "
                         "beyond the holdout control",
    "linkability_risk": "linking two column sets of a training patient through the synthetic "
                        "rows, beyond the holdout control",
    "inference_risk": "inferring a secret column from the nearest synthetic row, beyond the "
                      "holdout control (worst secret)",
}

#: every non-headline score name in the JSON -> (range, direction)
LEGEND: dict[str, tuple[str, str]] = {
    "ks": ("0 to 1", "lower"),
    "wasserstein": ("0 upward, in real-range units", "lower"),
    "tv": ("0 to 1", "lower"),
    "real_missing": ("0 to 1", "baseline"),
    "synthetic_missing": ("0 to 1", "closer to real_missing"),
    "correlation_similarity": ("0 to 1", "higher"),
    "contingency": ("0 to 1", "higher"),
    "detection_auc_std": ("0 upward", "baseline"),
    "accuracy": ("0 to 1", "higher"),
    "precision": ("0 to 1 (macro)", "higher"),
    "recall": ("0 to 1 (macro)", "higher"),
    "f1": ("0 to 1 (macro)", "higher"),
    "roc_auc": ("0 to 1 (one-vs-rest macro for multiclass)", "higher"),
    "ratio": ("0 upward, 1 = as useful as real", "higher"),
    "importance_spearman": ("-1 to 1", "higher"),
    "importance_top5_overlap": ("0 to 1", "higher"),
    "dcr_holdout_median": ("0 upward", "baseline"),
    "exact_copies_all_train": ("count, 0 upward", "lower"),
    "dcr_share_if_memorised": ("0.5 to 1", "baseline"),
    "calibrated_dcr_baseline": ("0 to 1, about 0.02", "baseline"),
    "risk": ("0 to 1, 0 = no leak", "lower"),
    "attack_rate": ("0 to 1", "lower"),
    "control_rate": ("0 to 1", "baseline"),
    "baseline_rate": ("0 to 1", "baseline"),
}


def describe(key: str) -> str:
    """``"0 to 1; higher is better"`` for a headline or legend key."""
    rng, direction = DIRECTIONS.get(key) or LEGEND[key]
    if direction == "baseline":
        return f"{rng}; a baseline to compare with"
    return f"{rng}; {direction} is better"


# thresholds for the warnings (each warning's text states its threshold)
DCR_SHARE_FLAG = 0.6
#: a survival pair's C-index gap flagged when its whole interval lies below minus this
SURVIVAL_GAP_FLAG = 0.02
PRIVACY_LOSS_FLAG = 0.1
MIA_AUC_FLAG = 0.6
DETECTION_HIGH_FLAG = 0.9
DETECTION_LOW_FLAG = 0.3
#: risk flags: above the issue's targets and with a 95 % interval that excludes 0
RISK_FLAGS = {"singling_out_risk": 0.10, "linkability_risk": 0.05, "inference_risk": 0.10}
CALIBRATED_DCR_MARGIN = 0.03


def headline_flags(h: dict[str, float], m: int | None = None,
                   risk_low: dict[str, float] | None = None,
                   dcr_baseline: float | None = None) -> list[dict[str, str]]:
    """``[{"key", "message"}]`` for each headline score past its stated threshold.

    ``m`` is the size of the equal train and holdout samples the copies were counted in;
    ``risk_low`` the lower ends of the risks' intervals; ``dcr_baseline`` the holdout's own
    calibrated-DCR share.
    """
    out = []

    def add(key: str, message: str) -> None:
        out.append({"key": key, "message": message})

    if h["dcr_share"] > DCR_SHARE_FLAG:
        add("dcr_share", f"memorisation: {h['dcr_share']:.2f} of synthetic rows sit closer to "
            f"train than to holdout (0.5 expected, flag above {DCR_SHARE_FLAG})")
    copies, base = h["exact_copies"], h["holdout_exact_copies"]
    if copies > base + 2 * math.sqrt(base) + 2:
        within = f" of a {m}-row sample" if m else ""
        add("exact_copies", f"exact copies: {int(copies)} synthetic rows equal a train row"
            f"{within}, against {int(base)} that equal a holdout row{within} (flag above "
            "baseline + 2·sqrt(baseline) + 2)")
    if h["privacy_loss"] > PRIVACY_LOSS_FLAG:
        add("privacy_loss", f"privacy loss: NNAA holdout - train = {h['privacy_loss']:.2f} "
            f"(0 expected, flag above {PRIVACY_LOSS_FLAG})")
    if h["mia_auc"] > MIA_AUC_FLAG:
        add("mia_auc", f"membership inference: attack AUC {h['mia_auc']:.2f} "
            f"(0.5 expected, flag above {MIA_AUC_FLAG})")
    if h["detection_auc"] > DETECTION_HIGH_FLAG:
        add("detection_auc", f"detection: a classifier tells synthetic from real rows with AUC "
            f"{h['detection_auc']:.2f} (0.5 = indistinguishable, flag above "
            f"{DETECTION_HIGH_FLAG})")
    elif h["detection_auc"] < DETECTION_LOW_FLAG:
        add("detection_auc", f"detection: AUC {h['detection_auc']:.2f} is far below 0.5, so "
            "synthetic rows sit on top of training rows (flag below "
            f"{DETECTION_LOW_FLAG})")
    base = 0.02 if dcr_baseline is None or not math.isfinite(dcr_baseline) else dcr_baseline
    cal = h.get("calibrated_dcr", float("nan"))
    if math.isfinite(cal) and cal > base + CALIBRATED_DCR_MARGIN:
        add("calibrated_dcr", f"calibrated DCR: {cal:.1%} of synthetic rows sit closer to a "
            f"training row than 98 % of holdout patients do ({base:.1%} expected, flag above "
            f"{base + CALIBRATED_DCR_MARGIN:.1%})")
    for key, limit in RISK_FLAGS.items():
        value = h.get(key, float("nan"))
        low = (risk_low or {}).get(key, 0.0)
        name = key.replace("_", " ")
        if math.isfinite(value) and value > limit and low > 0:
            add(key, f"{name}: {value:.2f} (interval from {low:.2f}; 0 expected, flag above "
                f"{limit} when the interval excludes 0)")
        elif math.isfinite(value) and value > limit:
            add(key, f"{name}: {value:.2f} is above its threshold {limit}, but its interval "
                f"reaches {low:.2f}: too noisy to judge, since the holdout patients give the "
                "attack too few successes or failures to compare with (more holdout rows, or "
                "more attacks, narrow it)")
    return out


def make_flags(result: AuditResult) -> list[dict[str, str]]:
    """Headline warnings, the values shown and the utility notes (e.g. a single-class synthetic
    table)."""
    notes = [{"key": "utility", "message": n} for n in result.utility.notes]
    m = result.privacy.sizes.get("equal_samples")
    risk_low = result.risk.headline_low() if result.risk is not None else None
    return (headline_flags(result.headline(), m, risk_low,
                           result.privacy.calibrated_dcr_baseline)
            + value_flags(result.values) + rule_flags(result.rules)
            + survival_flags(result.survival_pairs) + notes)


def interval_text(gap: dict[str, float], over: str) -> str:
    """``95 % over <over> <low> to <high>``: a gap's interval over resampled patients, as
    the flags and the console print it."""
    return f"95 % over {over} {gap['low']:+.3f} to {gap['high']:+.3f}"


def survival_flags(pairs: list[Any]) -> list[dict[str, str]]:
    """A warning per survival pair whose C-index gap TSTR - TRTR lies wholly below
    ``-SURVIVAL_GAP_FLAG`` over the holdout's resamples: lost utility beyond the holdout's
    noise (a gap whose interval reaches that far is not flagged)."""
    out = []
    for pair in pairs or []:
        gap = getattr(pair, "gap", None) or {}
        high = gap.get("high", float("nan"))
        if math.isfinite(high) and high < -SURVIVAL_GAP_FLAG:
            out.append({"key": "survival", "message": (
                f"survival {pair.time}/{pair.event}: a Cox model trained on synthetic rows "
                f"ranks holdout patients worse than one trained on real rows (C-index gap "
                f"{gap['gap']:+.3f}, {interval_text(gap, 'holdout patients')}; flag when the "
                f"whole interval lies below -{SURVIVAL_GAP_FLAG})")})
    return out


def rule_flags(rules: Any) -> list[dict[str, str]]:
    """A warning naming the rules no real row breaks and some synthetic rows do."""
    broken = rules.broken() if rules is not None else []
    if not broken:
        return []
    named = "; ".join(f"{r['rule']} ({r['synthetic']:.1%})" for r in broken[:5])
    more = f" and {len(broken) - 5} more" if len(broken) > 5 else ""
    return [{"key": "rules", "message": (
        f"rules: synthetic rows break {len(broken)} rule(s) that every real row keeps: "
        f"{named}{more}")}]


def value_flags(values: Any) -> list[dict[str, str]]:
    """Warnings for rare values and extremes a synthetic table shows (none expected)."""
    if values is None:
        return []
    out = []
    if values.any_rare_row > 0:
        columns = ", ".join(c for c, s in values.rare_rows.items() if s > 0)
        out.append({"key": "rare_values", "message": (
            f"rare values: {values.any_rare_row:.1%} of synthetic rows carry a value that fewer "
            f"than {values.k} training patients hold ({columns}; 0 expected)")})
    if values.rare_extremes:
        ends = "; ".join(f"{c} {', '.join(e)}" for c, e in values.rare_extremes.items())
        out.append({"key": "rare_extremes", "message": (
            f"extremes: the synthetic {ends} equal a value that fewer than {values.k} training "
            "patients hold (none expected)")})
    return out


def clean(value: Any) -> Any:
    """Recursively turn numpy values into Python ones and NaN/inf into ``None`` (valid JSON)."""
    if isinstance(value, dict):
        return {str(k): clean(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [clean(v) for v in value]
    if isinstance(value, np.ndarray):
        return [clean(v) for v in value.tolist()]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class ColumnScore:
    """One column's marginal fidelity: KS and Wasserstein (numeric) or TV (categorical)."""

    name: str
    kind: str
    ks: float
    wasserstein: float
    tv: float
    real_missing: float
    synthetic_missing: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FidelityResult:
    """Marginals, pairwise trends and detection, synthetic against train."""

    columns: list[ColumnScore]
    ks_mean: float
    wasserstein_mean: float
    tv_mean: float
    pair_trend: float
    contingency_similarity: float
    corr_frobenius: float
    detection_auc: float
    detection_auc_std: float
    detection_rows: int
    corr_columns: list[str] = field(default_factory=list)
    corr_real: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    corr_synthetic: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)), repr=False)
    pairs: list[dict[str, Any]] = field(default_factory=list, repr=False)

    def column(self, name: str) -> ColumnScore:
        """The scores of one column by name."""
        for col in self.columns:
            if col.name == name:
                return col
        raise KeyError(name)

    def to_dict(self) -> dict[str, Any]:
        return {
            "ks_mean": self.ks_mean, "wasserstein_mean": self.wasserstein_mean,
            "tv_mean": self.tv_mean, "pair_trend": self.pair_trend,
            "contingency_similarity": self.contingency_similarity,
            "corr_frobenius": self.corr_frobenius, "detection_auc": self.detection_auc,
            "detection_auc_std": self.detection_auc_std, "detection_rows": self.detection_rows,
            "columns": [c.to_dict() for c in self.columns], "pairs": self.pairs,
            "correlation": {"columns": self.corr_columns, "real": self.corr_real,
                            "synthetic": self.corr_synthetic},
        }


@dataclass
class UtilityResult:
    """Classifier scores per scenario and model, TSTR/TRTR ratios, feature-importance agreement."""

    scores: list[dict[str, Any]]
    ratios: dict[str, dict[str, float]]
    importance: dict[str, Any]
    notes: list[str] = field(default_factory=list)

    def get(self, scenario: str, model: str, metric: str) -> float:
        """One score, NaN when that scenario/model was not run."""
        for row in self.scores:
            if row["scenario"] == scenario and row["model"] == model:
                return float(row[metric])
        return float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {"scores": self.scores, "ratios": self.ratios, "importance": self.importance,
                "notes": self.notes}


@dataclass
class PrivacyResult:
    """Distances to closest records, exact copies, NNAA and membership inference."""

    dcr_median: float
    dcr_holdout_median: float
    dcr_share: float
    exact_copies: int
    holdout_exact_copies: int
    exact_copies_all_train: int
    nnaa_train: float
    nnaa_holdout: float
    privacy_loss: float
    mia_auc: float
    sizes: dict[str, int]
    calibrated_dcr: float = float("nan")
    calibrated_dcr_baseline: float = float("nan")
    calibrated_dcr_tau: float = float("nan")
    dcr_train: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)
    dcr_holdout: np.ndarray = field(default_factory=lambda: np.zeros(0), repr=False)

    @property
    def memorised_share(self) -> float:
        """``dcr_share`` a table copying every training row would get: ``0.5 + 0.5·m/|train|``.

        Only copies of the ``m`` sampled train rows can show against an ``m``-row holdout.
        """
        return 0.5 + 0.5 * self.sizes["equal_samples"] / self.sizes["train_rows"]

    def to_dict(self) -> dict[str, Any]:
        quantiles = (0.05, 0.25, 0.5, 0.75, 0.95)
        return {
            "dcr_median": self.dcr_median, "dcr_holdout_median": self.dcr_holdout_median,
            "dcr_share": self.dcr_share, "exact_copies": self.exact_copies,
            "holdout_exact_copies": self.holdout_exact_copies,
            "exact_copies_all_train": self.exact_copies_all_train,
            "nnaa_train": self.nnaa_train, "nnaa_holdout": self.nnaa_holdout,
            "privacy_loss": self.privacy_loss, "mia_auc": self.mia_auc, "sizes": self.sizes,
            "calibrated_dcr": self.calibrated_dcr,
            "calibrated_dcr_baseline": self.calibrated_dcr_baseline,
            "calibrated_dcr_tau": self.calibrated_dcr_tau,
            "dcr_share_if_memorised": self.memorised_share,
            "dcr_quantiles": {
                "q": list(quantiles),
                "synthetic_to_train": _quantiles(self.dcr_train, quantiles),
                "synthetic_to_holdout": _quantiles(self.dcr_holdout, quantiles),
            },
        }


def _quantiles(values: np.ndarray, qs: tuple[float, ...]) -> list[float]:
    if len(values) == 0:
        return [float("nan")] * len(qs)
    return [float(v) for v in np.quantile(values, qs)]


@dataclass
class AuditResult:
    """Everything one audit measured. ``headline()`` is the flat summary benchmarks tabulate."""

    fidelity: FidelityResult
    utility: UtilityResult
    privacy: PrivacyResult
    meta: dict[str, Any]
    flags: list[dict[str, str]] = field(default_factory=list)
    risk: RiskResult | None = None
    #: survival fidelity/utility of the first pair
    #: (:class:`clinisynth.audit.survival.SurvivalResult`) or None
    survival: Any = None
    #: the same for every pair the schema holds, the first included
    survival_pairs: list[Any] = field(default_factory=list)
    #: rare values and extremes shown (:class:`clinisynth.audit.values.ValueExposure`) or None
    values: Any = None
    #: rows breaking each rule (:class:`clinisynth.audit.rules.RuleViolations`) or None
    rules: Any = None

    def headline(self) -> dict[str, float]:
        """Flat ``{key: value}`` over :data:`HEADLINE_KEYS`; NaN where a score is undefined."""
        fid, uti, pri = self.fidelity, self.utility, self.privacy
        rf = "random_forest"
        values = {
            "ks_mean": fid.ks_mean, "wasserstein_mean": fid.wasserstein_mean,
            "tv_mean": fid.tv_mean, "pair_trend": fid.pair_trend,
            "contingency_similarity": fid.contingency_similarity,
            "corr_frobenius": fid.corr_frobenius, "detection_auc": fid.detection_auc,
            "trtr_accuracy": uti.get("TRTR", rf, "accuracy"),
            "tstr_accuracy": uti.get("TSTR", rf, "accuracy"),
            "trtr_f1": uti.get("TRTR", rf, "f1"), "tstr_f1": uti.get("TSTR", rf, "f1"),
            "trtr_auc": uti.get("TRTR", rf, "roc_auc"), "tstr_auc": uti.get("TSTR", rf, "roc_auc"),
            "tstr_trtr_f1_ratio": uti.ratios.get(rf, {}).get("f1", float("nan")),
            "dcr_median": pri.dcr_median, "dcr_share": pri.dcr_share,
            "exact_copies": pri.exact_copies, "holdout_exact_copies": pri.holdout_exact_copies,
            "nnaa_train": pri.nnaa_train, "nnaa_holdout": pri.nnaa_holdout,
            "privacy_loss": pri.privacy_loss, "mia_auc": pri.mia_auc,
            "calibrated_dcr": pri.calibrated_dcr,
        }
        nan = float("nan")
        values.update(self.risk.headline() if self.risk is not None else
                      {"singling_out_risk": nan, "linkability_risk": nan, "inference_risk": nan})
        return {key: float(values[key]) for key in HEADLINE_KEYS}

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: every headline score with its range and direction, then details.

        NaN (an undefined score) becomes ``None``.
        """
        headline = {
            key: {"value": value, "range": DIRECTIONS[key][0],
                  "direction": DIRECTIONS[key][1], "what": LABELS[key]}
            for key, value in self.headline().items()
        }
        legend = {key: {"range": r, "direction": d} for key, (r, d) in LEGEND.items()}
        return clean({
            "headline": headline, "flags": self.flags, "meta": self.meta, "legend": legend,
            "fidelity": self.fidelity.to_dict(), "utility": self.utility.to_dict(),
            "privacy": self.privacy.to_dict(),
            "risk": self.risk.to_dict() if self.risk is not None else None,
            "survival": self.survival.to_dict() if self.survival is not None else None,
            "survival_pairs": [pair.to_dict() for pair in self.survival_pairs],
            "values": self.values.to_dict() if self.values is not None else None,
            "rules": self.rules.to_dict() if self.rules is not None else None,
        })

    def to_json(self, path: str | Path | None = None) -> str:
        """The :meth:`to_dict` as JSON text; also written atomically to ``path`` if given."""
        text = json.dumps(self.to_dict(), indent=2, allow_nan=False)
        if path is not None:
            write_text_atomic(Path(path), text)
        return text
