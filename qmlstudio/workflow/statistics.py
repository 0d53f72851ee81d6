"""Statistics over the seeds of a study: means, t intervals, paired tests and verdicts.

Everything here is plain numbers in, plain numbers out (scipy.stats underneath), so the
CLI, the report and the GUI show the same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

#: The paired test used against the best classical baseline, as shown to the user.
PAIRED_TEST = "paired t test (scipy.stats.ttest_rel, two-sided)"
#: The effect size reported with it.
EFFECT_SIZE = "Cohen's d_z (mean paired difference / its standard deviation)"
ALPHA = 0.05


def _finite(values: Iterable[Any]) -> list[float]:
    return [float(v) for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]


def summary(values: Iterable[Any]) -> dict[str, Any]:
    """``{n, mean, std, ci95: [low, high]}`` of the finite values: sample standard deviation
    (ddof 1) and the two-sided 95% Student t interval of the mean (None where n < 2)."""
    from scipy import stats

    xs = _finite(values)
    n = len(xs)
    if n == 0:
        return {"n": 0, "mean": None, "std": None, "ci95": None}
    mean = sum(xs) / n
    if n < 2:
        return {"n": 1, "mean": mean, "std": None, "ci95": None}
    std = math.sqrt(sum((x - mean) ** 2 for x in xs) / (n - 1))
    half = float(stats.t.ppf(0.975, n - 1)) * std / math.sqrt(n)
    return {"n": n, "mean": mean, "std": std, "ci95": [mean - half, mean + half]}


@dataclass
class PairedComparison:
    """The quantum model against one classical baseline over the same seeds."""

    baseline: str
    n: int
    mean_difference: float | None  # quantum − baseline
    statistic: float | None
    p_value: float | None
    effect_size: float | None
    verdict: str

    def to_dict(self) -> dict[str, Any]:
        return {"baseline": self.baseline, "n": self.n, "mean_difference": self.mean_difference,
                "test": PAIRED_TEST, "statistic": self.statistic, "p_value": self.p_value,
                "effect_size": self.effect_size, "effect_size_kind": EFFECT_SIZE, "verdict": self.verdict}


def paired_comparison(quantum: Sequence[Any], baseline: Sequence[Any], name: str, score: str = "accuracy") -> PairedComparison:
    """A paired t test of ``quantum`` against ``baseline`` (the same seeds, position by position)
    and a one-line verdict that claims a difference only where p < 0.05."""
    from scipy import stats

    pairs = [(float(q), float(b)) for q, b in zip(quantum, baseline)
             if _finite([q]) and _finite([b])]
    n = len(pairs)
    if n < 2:
        return PairedComparison(name, n, None, None, None, None,
                                f"too few paired seeds ({n}) to test against {name}")
    diffs = [q - b for q, b in pairs]
    mean = sum(diffs) / n
    sd = math.sqrt(sum((d - mean) ** 2 for d in diffs) / (n - 1))
    if sd == 0.0:
        if mean == 0.0:
            return PairedComparison(name, n, 0.0, None, None, 0.0,
                                    f"identical test {score} to {name} on all {n} seeds: no difference")
        # a constant difference: the t statistic is infinite, but n seeds cannot rule out chance
        # beyond what the sign test gives; report it as what it is.
        return PairedComparison(name, n, mean, None, None, None,
                                f"{'higher' if mean > 0 else 'lower'} test {score} than {name} by exactly "
                                f"{abs(mean):.3f} on every one of {n} seeds (no variance: no t test)")
    result = stats.ttest_rel([q for q, _ in pairs], [b for _, b in pairs])
    p = float(result.pvalue)
    d = mean / sd
    if p < ALPHA:
        word = "higher" if mean > 0 else "lower"
        verdict = (f"{word} test {score} than {name} by {abs(mean):.3f} "
                   f"(paired t, n={n}, p={p:.3g}, d_z={d:.2f})")
    else:
        verdict = (f"no significant difference from {name} (paired t, n={n}, p={p:.3g}, "
                   f"mean difference {mean:+.3f}, d_z={d:.2f})")
    return PairedComparison(name, n, mean, float(result.statistic), p, d, verdict)


def band(curves: Sequence[Sequence[Any]]) -> dict[str, list[float | None]]:
    """Seed-averaged learning curve: per index the mean over the curves that have a finite
    value there (curves of different lengths allowed) and its 95% Student t interval
    (``low``/``high``; equal to the mean where only one curve has a value)."""
    length = max((len(c) for c in curves), default=0)
    mean: list[float | None] = []
    low: list[float | None] = []
    high: list[float | None] = []
    for i in range(length):
        s = summary([c[i] for c in curves if i < len(c)])
        m = s["mean"]
        mean.append(m)
        low.append(s["ci95"][0] if s["ci95"] else m)
        high.append(s["ci95"][1] if s["ci95"] else m)
    return {"mean": mean, "low": low, "high": high}


def study_statistics(trials: Sequence[Mapping[str, Any]], score: str = "accuracy") -> list[dict[str, Any]]:
    """Per configuration (in first-seen order), from the completed trials: the ``test_accuracy``,
    ``loss`` and ``seconds`` summaries, each baseline's, the paired comparison against the
    best baseline (highest mean test score) on the same seeds, and the learning-curve band."""
    groups: dict[str, list[Mapping[str, Any]]] = {}
    configs: dict[str, Any] = {}
    for trial in trials:
        key = trial["config_key"]
        configs.setdefault(key, trial["config"])
        groups.setdefault(key, [])
        if trial.get("status") == "completed":
            groups[key].append(trial)
    out = []
    for key, done in groups.items():
        done = sorted(done, key=lambda t: t["seed"])
        names = sorted({name for t in done for name in (t.get("baselines") or {})})
        baselines = {name: summary([(t.get("baselines") or {}).get(name) for t in done]) for name in names}
        best = max((n for n in names if baselines[n]["mean"] is not None),
                   key=lambda n: baselines[n]["mean"], default=None)
        comparison = None
        if best is not None:
            comparison = paired_comparison([t.get("test_accuracy") for t in done],
                                           [(t.get("baselines") or {}).get(best) for t in done], best, score)
        out.append({
            "config_key": key,
            "config": configs[key],
            "seeds": [t["seed"] for t in done],
            "test_accuracy": summary(t.get("test_accuracy") for t in done),
            "loss": summary(t.get("test_loss") for t in done),
            "seconds": summary(t.get("seconds") for t in done),
            "baselines": baselines,
            "best_baseline": best,
            "comparison": None if comparison is None else comparison.to_dict(),
            "curve": band([t.get("curve") or [] for t in done]),
        })
    return out
