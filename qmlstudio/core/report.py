"""A project's comparison report: one self-contained HTML page to attach to a paper or review.

Every run with its configuration, final accuracies and timings; the classical baselines
trained on the same split; the training curves and an accuracy chart (matplotlib, Agg,
embedded as base64 PNG); optionally the results of analysis studies; the package versions.
Nothing refers to outside files, so the page can be mailed or archived as it is.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
import os
from pathlib import Path
from typing import Any, Iterable, Sequence

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.storage import atomic_write_text

__all__ = ["figure_png", "render_report", "report_figures", "write_report"]

_STYLE = """
body { font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; margin: 2em auto; max-width: 1100px;
       color: #222; line-height: 1.4; }
h1 { margin-bottom: 0.1em; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2em; margin-top: 1.6em; }
table { border-collapse: collapse; margin: 0.6em 0; font-size: 0.92em; }
th, td { border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; white-space: nowrap; }
th { background: #f0f3f7; } td.text, th.text { text-align: left; }
.muted { color: #666; font-size: 0.9em; } img { max-width: 100%; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.best { font-weight: bold; background: #eaf6ea; }
"""


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        if not math.isfinite(value):
            return "–"
        return f"{value:.{digits}f}"
    return html.escape(str(value))


def _last(values: Sequence[Any] | None) -> Any:
    for value in reversed(list(values or [])):
        if value is not None:
            return value
    return None


def figure_png(figure: Any) -> bytes:
    """A matplotlib figure as PNG bytes (closed afterwards)."""
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110, bbox_inches="tight")
    plt.close(figure)
    return buffer.getvalue()


def _pyplot() -> Any:
    import matplotlib

    if matplotlib.get_backend().lower() not in ("agg", "module://matplotlib_inline.backend_inline"):
        try:
            matplotlib.use("Agg", force=False)
        except Exception:  # noqa: BLE001 - a GUI backend already in use still renders to a buffer
            pass
    import matplotlib.pyplot as plt

    return plt


def _run_label(run: Any) -> str:
    encoding = (run.config.get("encoding") or {}).get("name", "?")
    ansatz = (run.config.get("ansatz") or {}).get("name") or ((run.config.get("model") or {}).get("kind", "?"))
    return f"{run.id[:8]} ({encoding} + {ansatz})"


def report_figures(project: Any, studies: Iterable[Any] = ()) -> list[tuple[str, bytes]]:
    """``(caption, png)`` of the report's plots: curves, accuracies, then each study's."""
    plt = _pyplot()
    figures: list[tuple[str, bytes]] = []
    runs = [r for r in project.runs if r.metrics.get("iteration")]
    if runs:
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(10, 3.6))
        for run in runs:
            it = run.metrics.get("iteration", [])
            loss = run.metrics.get("loss", [])
            acc = run.metrics.get("test_accuracy", [])
            pts = [(i, v) for i, v in zip(it, loss) if v is not None]
            if pts:
                ax_loss.plot(*zip(*pts), label=_run_label(run))
            pts = [(i, v) for i, v in zip(it, acc) if v is not None]
            if pts:
                ax_acc.plot(*zip(*pts), marker="." if len(pts) < 3 else None, label=_run_label(run))
        ax_loss.set(title="Training loss", xlabel="iteration", ylabel="loss")
        ax_acc.set(title="Test accuracy", xlabel="iteration", ylabel="accuracy")
        ax_acc.legend(fontsize=7, loc="lower right")
        for ax in (ax_loss, ax_acc):
            ax.grid(alpha=0.3)
        figures.append(("Training curves of every run", figure_png(fig)))

        names = [_run_label(r) for r in runs]
        quantum = [_last(r.metrics.get("test_accuracy")) for r in runs]
        baseline_names = sorted({name for r in runs for name in r.baselines})
        fig, ax = plt.subplots(figsize=(10, 0.6 + 0.5 * len(runs) * (1 + len(baseline_names)) ** 0.5))
        import numpy as np

        width = 0.8 / (1 + len(baseline_names))
        y = np.arange(len(runs))
        ax.barh(y, [q or 0 for q in quantum], height=width, label="quantum model", color="#1f77b4")
        for k, name in enumerate(baseline_names):
            values = [(r.baselines.get(name) or {}).get("test_accuracy") or 0 for r in runs]
            ax.barh(y + (k + 1) * width, values, height=width, label=name, alpha=0.8)
        ax.set_yticks(y + width * len(baseline_names) / 2, names, fontsize=8)
        ax.set(xlabel="test accuracy", xlim=(0, 1.05), title="Quantum model and classical baselines (same split)")
        ax.invert_yaxis()
        ax.legend(fontsize=7, loc="lower right")
        ax.grid(alpha=0.3, axis="x")
        figures.append(("Test accuracy of each run against its baselines", figure_png(fig)))
    for study in studies:
        figures.extend(study_figures(study))
    return figures


def study_figures(study: Any) -> list[tuple[str, bytes]]:
    """The plots of one analysis result (barren plateau, encodings or kernel)."""
    from qmlstudio.core.analysis import BarrenPlateauResult, EncodingStudyResult, KernelStudyResult

    plt = _pyplot()
    import numpy as np

    out: list[tuple[str, bytes]] = []
    if isinstance(study, BarrenPlateauResult):
        fig, ax = plt.subplots(figsize=(7, 4.2))
        n = np.array(study.qubits)
        for cost, style in (("global", "-"), ("local", "--")):
            for L in study.layers:
                v = study.variance[cost][str(L)]
                a, b = study.rate[cost][str(L)], study.intercept[cost][str(L)]
                line = ax.semilogy(n, v, "o" + style, label=f"{cost}, {L} layers: a = {a:.2f}")[0]
                if math.isfinite(a):
                    ax.semilogy(n, 2.0 ** (b - a * n), ":", color=line.get_color(), alpha=0.6)
        ax.set(xlabel="qubits n", ylabel="Var[∂C/∂θ]",
               title=f"Barren plateau: {study.template}, {study.samples} samples (fit Var ∝ 2^(−a·n))")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3, which="both")
        out.append(("Gradient variance against qubits", figure_png(fig)))
    elif isinstance(study, EncodingStudyResult):
        fig, ax = plt.subplots(figsize=(7, 3.8))
        for row in study.rows:
            pts = [(i, v) for i, v in enumerate(row.loss) if v is not None]
            if pts:
                ax.plot(*zip(*pts), label=f"{row.encoding} (test {_fmt(row.test_accuracy)})")
        ax.set(xlabel="iteration", ylabel="loss", title="Encoding study: training loss")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
        out.append(("Encodings compared: training loss", figure_png(fig)))
    elif isinstance(study, KernelStudyResult):
        fig, ax = plt.subplots(figsize=(5, 4.2))
        image = ax.imshow(study.gram, cmap="viridis", vmin=0, vmax=1)
        fig.colorbar(image, ax=ax)
        ax.set(title=f"Quantum kernel ({study.encoding}), alignment {study.alignment:.3f}")
        out.append(("Quantum kernel Gram matrix (training samples sorted by class)", figure_png(fig)))
    return out


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], text_columns: int = 1) -> str:
    head = "".join(f'<th class="{"text" if i < text_columns else ""}">{html.escape(h)}</th>' for i, h in enumerate(headers))
    body = []
    for row in rows:
        cells = "".join(
            f'<td class="{"text" if i < text_columns else ""}">{c if isinstance(c, _Raw) else _fmt(c)}</td>'
            for i, c in enumerate(row)
        )
        body.append(f"<tr>{cells}</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


class _Raw(str):
    """HTML that a table cell takes as it is."""


def _study_section(study: Any) -> str:
    from qmlstudio.core.analysis import BarrenPlateauResult, EncodingStudyResult, KernelStudyResult

    if isinstance(study, BarrenPlateauResult):
        rows = [(f"{cost}", L, study.rate[cost][str(L)]) for cost in ("global", "local") for L in study.layers]
        return ("<h3>Barren plateau</h3>" + f'<p class="muted">Costs: global {html.escape(study.costs["global"])}; '
                f'local {html.escape(study.costs["local"])}. Qubits {study.qubits}, {study.samples} samples, '
                f"seed {study.seed}.</p>" + _table(["cost", "layers", "fitted a (Var ∝ 2^−a·n)"], rows))
    if isinstance(study, EncodingStudyResult):
        device = study.device
        rows = [(r.encoding, r.encoding_qubits, r.qubits, r.weights, r.encoding_depth, r.encoding_two_qubit, r.depth,
                 r.two_qubit, *((r.device_depth, r.device_two_qubit) if device else ()), r.test_accuracy, r.seconds,
                 r.status) for r in study.rows]
        width = (f"the same ansatz on {study.qubits} qubits for every encoding" if study.qubits is not None
                 else "the ansatz on each encoding's own qubits")
        where = ",".join(study.basis_gates) + (f" and to {device}" if device else "")
        return ("<h3>Encoding study</h3>" + f'<p class="muted">{html.escape(width)}; depths and two-qubit gates '
                f"transpiled to {html.escape(where)} (enc.: the encoding alone).</p>" + _table(
                    ["encoding", "enc. qubits", "qubits", "weights", "enc. depth", "enc. two-qubit", "depth",
                     "two-qubit gates", *((f"{device} depth", f"{device} two-qubit") if device else ()),
                     "test accuracy", "seconds", "status"], rows))
    if isinstance(study, KernelStudyResult):
        rows = [("quantum kernel SVM", study.alignment, study.quantum_train_accuracy, study.quantum_test_accuracy),
                ("RBF SVM", study.rbf_alignment, study.rbf_train_accuracy, study.rbf_test_accuracy)]
        return f"<h3>Kernel study ({html.escape(study.encoding)})</h3>" + _table(
            ["model", "kernel-target alignment", "train accuracy", "test accuracy"], rows)
    return ""


def render_report(project: Any, studies: Iterable[Any] = (), *, title: str | None = None) -> str:
    """The report of ``project`` (and of any study results given) as one HTML page."""
    from qmlstudio.core.training import package_versions

    studies = list(studies)
    name = html.escape(project.name)
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title or project.name)} — "
             f"QML Studio report</title><style>{_STYLE}</style></head><body>"]
    parts.append(f"<h1>{html.escape(title or project.name)}</h1>")
    parts.append(f'<p class="muted">QML Studio comparison report of project <b>{name}</b>'
                 + (f" ({html.escape(str(project.path))})" if getattr(project, "path", None) else "")
                 + f"; {len(project.runs)} run(s).</p>")
    if project.notes:
        parts.append(f"<p>{html.escape(project.notes)}</p>")

    parts.append("<h2>Runs</h2>")
    if project.runs:
        rows = []
        best = max((_last(r.metrics.get("test_accuracy")) or -1 for r in project.runs), default=-1)
        for r in project.runs:
            config = r.config if isinstance(r.config, dict) else {}
            test = _last(r.metrics.get("test_accuracy"))
            rows.append((
                r.id, r.status, _field(config, "model", "kind"),
                _field(config, "encoding", "name"), _field(config, "ansatz", "name"),
                _field(config, "optimizer", "name"), _field(config, "backend", "name"),
                len(r.final_weights), _last(r.metrics.get("train_accuracy")),
                _Raw(f'<span class="best">{_fmt(test)}</span>') if test is not None and test == best else test,
                _last(r.metrics.get("loss")), r.timings.get("seconds"),
            ))
        parts.append(_table(["run", "status", "model", "encoding", "ansatz", "optimizer", "backend",
                             "weights", "train acc.", "test acc.", "final loss", "seconds"], rows, text_columns=7))
        parts.append("<h2>Classical baselines (same split)</h2>")
        rows = []
        for r in project.runs:
            for model, values in r.baselines.items():
                rows.append((r.id, model, values.get("train_accuracy"), values.get("test_accuracy"), values.get("seconds")))
        parts.append(_table(["run", "baseline", "train acc.", "test acc.", "seconds"], rows, text_columns=2)
                     if rows else '<p class="muted">No baselines recorded.</p>')
        evaluations = [(r.id, e.get("backend"), e.get("accuracy")) for r in project.runs for e in r.evaluations]
        if evaluations:
            parts.append("<h2>Evaluations on other backends</h2>")
            parts.append(_table(["run", "backend", "accuracy"], evaluations, text_columns=2))
    else:
        parts.append('<p class="muted">The project has no runs yet: train it first.</p>')

    figures = report_figures(project, studies)
    if figures:
        parts.append("<h2>Plots</h2>")
        for caption, png in figures:
            data = base64.b64encode(png).decode("ascii")
            parts.append(f'<figure><img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
                         f"<figcaption class='muted'>{html.escape(caption)}</figcaption></figure>")
    if studies:
        parts.append("<h2>Analysis studies</h2>")
        parts.extend(_study_section(s) for s in studies)

    parts.append("<h2>Configuration</h2>")
    config = project.config_snapshot()
    config.pop("circuit", None)
    circuit = project.circuit
    parts.append(f"<p>Circuit: {circuit.num_qubits} qubits, depth {circuit.depth}, {circuit.two_qubit_count} "
                 f"two-qubit gates, {circuit.num_weights} weights.</p>")
    parts.append(f"<pre>{html.escape(json.dumps(config, indent=2, ensure_ascii=False))}</pre>")

    parts.append("<h2>Package versions</h2>")
    versions = dict(package_versions())
    recorded = {k: v for r in project.runs for k, v in r.versions.items()}
    rows = [(k, versions.get(k, "–"), recorded.get(k, "–")) for k in sorted(set(versions) | set(recorded))]
    parts.append(_table(["package", "now", "recorded by runs"], rows, text_columns=3))
    parts.append("</body></html>")
    return "\n".join(parts)


def _field(config: dict, part: str, key: str) -> str:
    """``config[part][key]`` as text, or "–" when a hand-edited file has another shape there."""
    value = config.get(part)
    item = value.get(key) if isinstance(value, dict) else None
    return str(item) if isinstance(item, (str, int, float)) and not isinstance(item, bool) else "–"


def write_report(project: Any, path: str | os.PathLike[str], studies: Iterable[Any] = ()) -> Path:
    """Writes :func:`render_report` to ``path`` atomically; returns the path."""
    target = Path(path)
    text = render_report(project, studies)
    try:
        # a unique temporary name, never followed through a symlink, removed on failure
        atomic_write_text(target, text)
    except OSError as exc:
        raise QMLStudioError(f"cannot write the report {target}: {exc.strerror or exc}") from None
    return target
