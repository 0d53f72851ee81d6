"""What the commands share: the :class:`Command` base, option parsing, the run autosave, signals, progress and summaries."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from typing import Any, Iterator, Sequence

from qmlstudio.core.errors import QMLStudioError
from qmlstudio.core.project import MAX_SEED

PROG = "qmlstudio"


class Command:
    """One sub-command: its name, one-line help, arguments and what it does."""

    name = ""
    help = ""
    description = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Declares the command's arguments."""

    def run(self, args: argparse.Namespace) -> int:
        """Does the work; returns the exit code (errors are raised as QMLStudioError)."""
        raise NotImplementedError


def _check_seed(seed: int | None) -> None:
    """Refuses a --seed outside 0..2³²−1 (NumPy and scikit-learn fail on it deep in a run)."""
    if seed is not None and not 0 <= seed <= MAX_SEED:
        raise QMLStudioError(f"--seed must be between 0 and {MAX_SEED}, got {seed}")


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _option_pairs(values: Sequence[str] | None) -> dict[str, str]:
    from qmlstudio.core.options import parse_option_text

    return parse_option_text(values or [])


def _warn_if_too_big(project: Any, registry: Any) -> None:
    """A warning on stderr when the project just written cannot be trained on this machine."""
    from qmlstudio.workflow import HiddenQubits, check_trainable

    try:
        check_trainable(project, registry)
    except HiddenQubits:
        pass  # 'train' adds the wires the encoding needs
    except QMLStudioError as exc:  # too large to simulate, a readout the data cannot have
        print(f"{PROG}: warning: 'train' will refuse it: {exc}", file=sys.stderr)


def _model_options(values: Sequence[str] | None) -> dict[str, Any]:
    """``--model-option NAME=VALUE`` texts converted to the types of the model's options."""
    from qmlstudio.workflow import MODEL_OPTIONS

    result: dict[str, Any] = {}
    for name, text in _option_pairs(values).items():
        if name not in MODEL_OPTIONS:
            raise QMLStudioError(f"model: unknown option {name!r} (known: {', '.join(MODEL_OPTIONS)})")
        kind = MODEL_OPTIONS[name][1]
        try:
            if kind is bool:
                if text.lower() not in ("true", "false", "1", "0", "yes", "no"):
                    raise ValueError
                result[name] = text.lower() in ("true", "1", "yes")
            else:
                result[name] = kind(text)
        except ValueError:
            raise QMLStudioError(f"model option {name!r}: expected {kind.__name__}, got {text!r}") from None
    return result


class _RunAutosave:
    """`qmlstudio train`'s autosave: the run so far, written into the project file (atomically,
    see :func:`qmlstudio.core.autosave.save_in_place`) at the end of each epoch and at least
    every ``every`` seconds, so that a SIGKILL, a crash or a power cut loses little."""

    def __init__(self, project: Any, run: Any, every: float, *, json_events: bool) -> None:
        self.project, self.run, self.every, self.json_events = project, run, every, json_events
        self.last_epoch: int | None = None
        self.last_time = time.monotonic()
        self.failed = False

    def after(self, it: Any) -> None:
        if self.failed:
            return
        epoch_done = self.last_epoch is not None and it.epoch != self.last_epoch
        self.last_epoch = it.epoch
        total = getattr(it, "total_iterations", None)
        if total is not None and it.iteration >= total:
            return  # the last iteration: the real save follows
        due = self.every > 0 and time.monotonic() - self.last_time >= self.every
        if not (epoch_done or due):
            return
        from qmlstudio.core.autosave import partial_run, save_in_place
        from qmlstudio.core.project import ProjectError

        self.last_time = time.monotonic()
        partial = partial_run(self.run.record)
        if partial is None:
            return
        try:
            save_in_place(self.project, [partial])
        except ProjectError as exc:
            self.failed = True  # said once; the run goes on and is saved (or refused) at the end
            print(f"{PROG}: warning: {exc}; autosave is off for this run", file=sys.stderr, flush=True)
            return
        if self.json_events:
            print(json.dumps({"event": "autosave", "iteration": int(it.iteration)}), flush=True)


@contextlib.contextmanager
def _stop_on_signals(controls: Any) -> Iterator[list[str]]:
    """SIGINT, SIGTERM and SIGHUP stop the work through ``controls`` (so that what was done is
    kept and saved) instead of killing the process; yields the names of the signals received."""
    import signal

    received: list[str] = []

    def stop(signum: int, _frame: Any) -> None:
        received.append(signal.Signals(signum).name)
        controls.cancel()

    names = ["SIGINT", "SIGTERM", "SIGHUP"]
    previous = {}
    for name in names:
        number = getattr(signal, name, None)
        if number is not None:
            previous[number] = signal.signal(number, stop)
    try:
        yield received
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


def _with_seed(project: Any, seed: int | None, init_from: str | None = None) -> Any:
    """A copy of ``project`` (same file location) with another seed and/or a warm start from
    the run ``init_from``, for one run; the project itself is left as it is."""
    from qmlstudio.core.project import ModelChoice, Project

    data = project.to_dict()
    if seed is not None:
        data["seed"] = seed
    if not init_from:
        data["runs"] = []  # nothing in the copy needs them
    copy = Project.from_dict(data)
    if init_from:
        copy.model = ModelChoice(copy.model.kind, {**copy.model.options, "init_from": init_from})
    object.__setattr__(copy, "path", project.path)
    return copy


def _follow_jobs(backend: Any) -> None:
    """Prints each change of a remote job's status (IBM Quantum) to stderr."""
    subscribe = getattr(backend, "subscribe_jobs", None)
    if not callable(subscribe):
        return

    def show(job_id: str, status: str, position: int | None) -> None:
        where = f" (queue position {position})" if position is not None else ""
        print(f"{PROG}: job {job_id}: {status}{where}", file=sys.stderr, flush=True)

    subscribe(show)


class _Progress:
    """A one-line progress bar on a terminal, with the ETA."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.shown = False

    def update(self, it: Any) -> None:
        if not self.enabled:
            return
        total = max(it.total_iterations, 1)
        done = min(it.iteration, total)
        width = 28
        filled = int(width * done / total)
        eta = it.elapsed_s / done * (total - done) if done else 0.0
        acc = "" if it.val_accuracy is None else f"  validation {it.val_accuracy:.3f}"
        line = (
            f"\r[{'#' * filled}{'-' * (width - filled)}] {done}/{total}  epoch {it.epoch}  "
            f"loss {it.loss:.4f}{acc}  ETA {eta:5.1f}s "
        )
        sys.stderr.write(line)
        sys.stderr.flush()
        self.shown = True

    def close(self) -> None:
        if self.shown:
            sys.stderr.write("\n")
            sys.stderr.flush()


def _summary(record: Any, kind: str) -> str:
    metrics = record.metrics
    score = "R²" if kind == "regressor" else "accuracy"
    train = metrics["train_accuracy"][-1] if metrics["train_accuracy"] else None
    test = record.test.get("accuracy") if record.test else None
    fmt = lambda v: "–" if v is None else f"{v:.3f}"  # noqa: E731
    count = lambda v: "" if v is None else f"   {v} parameters"  # noqa: E731
    lines = [
        f"run {record.id}: {record.status}" + (f" ({record.message})" if record.message else ""),
        f"  quantum model        train {score} {fmt(train)}   test {fmt(test)}   {record.timings.get('seconds') or 0:.1f} s"
        + count(record.parameters),
    ]
    if record.tuning.get("chosen"):
        lines.append("  quantum model tuned: " + ", ".join(f"{k}={v}" for k, v in record.tuning["chosen"].items())
                     + f" ({record.tuning.get('cv', 'cross-validation')} on the training rows)")
    for name, values in record.baselines.items():
        chosen = (values.get("tuned") or {}).get("chosen")
        tuned = "" if not chosen else "   tuned: " + ", ".join(f"{k}={v}" for k, v in chosen.items())
        untuned = values.get("untuned_test_accuracy")
        lines.append(
            f"  {name:<24} train {score} {fmt(values.get('train_accuracy'))}   test {fmt(values.get('test_accuracy'))}"
            + ("" if untuned is None else f" (untuned {fmt(untuned)})") + count(values.get("parameters")) + tuned
        )
    return "\n".join(lines)


def _read_only(path: str) -> bool:
    """True when the user has made ``path`` read-only (no write bit for its owner, or no access).

    Mode bits, not os.access: root may write anything, but a file marked read-only is still a refusal.
    """
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not (mode & 0o200) or (os.getuid() != 0 and not os.access(path, os.W_OK))
