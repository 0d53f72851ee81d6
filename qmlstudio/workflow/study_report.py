"""A study's HTML report: the per-configuration table with intervals, the paired tests,
a strip plot of test scores per configuration and the seed-averaged learning curves."""

from __future__ import annotations

import base64
import html
import io
from typing import Any, Mapping, Sequence

from qmlstudio.workflow.statistics import EFFECT_SIZE, PAIRED_TEST


def _fmt(s: Mapping[str, Any] | None) -> str:
    if not s or s.get("mean") is None:
        return "–"
    text = f"{s['mean']:.3f}"
    if s.get("std") is not None:
        text += f" ± {s['std']:.3f}"
    if s.get("ci95"):
        text += f" [{s['ci95'][0]:.3f}, {s['ci95'][1]:.3f}]"
    return text


def _label(config: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in config.items()) or "(project as is)"


def _png(figure: Any) -> str:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode()


def report_html(study: Mapping[str, Any], stats: Sequence[Mapping[str, Any]], score: str = "accuracy") -> str:
    import matplotlib

    matplotlib.use("Agg", force=False)
    from matplotlib.figure import Figure

    rows = []
    for s in stats:
        rows.append(f"<tr><td>{html.escape(_label(s['config']))}</td><td>{len(s['seeds'])}</td>"
                    f"<td>{_fmt(s['test_accuracy'])}</td><td>{_fmt(s['loss'])}</td><td>{_fmt(s['seconds'])}</td>"
                    f"<td>{html.escape((s['comparison'] or {}).get('verdict', '–'))}</td></tr>")
        for name, b in s["baselines"].items():
            rows.append(f"<tr class='baseline'><td>&nbsp;&nbsp;{html.escape(name)}</td><td>{b['n']}</td>"
                        f"<td>{_fmt(b)}</td><td></td><td></td><td></td></tr>")
    trials = study.get("trials", [])
    failed = [t for t in trials if t.get("status") != "completed"]
    fig = Figure(figsize=(max(4, 1.4 * len(stats)), 3.2))
    ax = fig.add_subplot()
    for i, s in enumerate(stats):
        values = [t.get("test_accuracy") for t in trials
                  if t["config_key"] == s["config_key"] and t.get("status") == "completed"]
        ax.scatter([i] * len(values), values, alpha=0.7)
        if s["test_accuracy"]["ci95"]:
            lo, hi = s["test_accuracy"]["ci95"]
            ax.errorbar([i + 0.15], [s["test_accuracy"]["mean"]], yerr=[[s["test_accuracy"]["mean"] - lo],
                        [hi - s["test_accuracy"]["mean"]]], fmt="o", color="black", capsize=4)
    ax.set_xticks(range(len(stats)), [_label(s["config"]) for s in stats], rotation=20, fontsize=8)
    ax.set_ylabel(f"test {score}")
    strip = _png(fig)
    fig = Figure(figsize=(5, 3.2))
    ax = fig.add_subplot()
    for s in stats:
        curve = s["curve"]
        xs = [i for i, m in enumerate(curve["mean"]) if m is not None]
        if not xs:
            continue
        ax.plot(xs, [curve["mean"][i] for i in xs], label=_label(s["config"]))
        ax.fill_between(xs, [curve["low"][i] for i in xs], [curve["high"][i] for i in xs], alpha=0.2)
    ax.set_xlabel("iteration")
    ax.set_ylabel(f"validation {score} (mean, 95% CI over seeds)")
    ax.legend(fontsize=7)
    curves = _png(fig)
    return (
        "<!doctype html><meta charset='utf-8'><title>QML Studio study</title>"
        "<style>body{font-family:sans-serif}td,th{padding:2px 8px;border-bottom:1px solid #ddd}"
        ".baseline{color:#555}</style>"
        f"<h1>Study {html.escape(str(study.get('id')))}</h1>"
        f"<p>Seeds {html.escape(str(study.get('seeds')))}; {len(trials)} trials recorded, {len(failed)} failed. "
        f"Cells: mean ± standard deviation [95% t interval]. Against the best classical baseline: "
        f"{html.escape(PAIRED_TEST)}, effect size {html.escape(EFFECT_SIZE)}; a difference is claimed only at p &lt; 0.05.</p>"
        "<table><tr><th>configuration</th><th>seeds</th><th>test " + score + "</th><th>test loss</th>"
        "<th>seconds</th><th>verdict</th></tr>" + "".join(rows) + "</table>"
        f"<h2>Test {score} per seed</h2><img src='data:image/png;base64,{strip}'>"
        f"<h2>Learning curves</h2><img src='data:image/png;base64,{curves}'>"
        + ("".join(f"<p>failed: {html.escape(t['config_key'])} seed {t['seed']}: {html.escape(str(t.get('message')))}</p>"
                   for t in failed))
    )
