"""The hostile-input corpus of issue #23: deterministic (seeded) cases that drive the CLI with
mutated project files, CSVs, IDX files, images and bad paths.

    python scripts/make_hostile_corpus.py DIR            write the cases under DIR (DIR/manifest.json)
    python scripts/make_hostile_corpus.py DIR --run      write them, run them all, print the failures

tests/reliability/test_hostile_corpus.py imports this file: :func:`materialize` writes every case's
files into its own folder, :func:`run_corpus` runs them through ``qmlstudio.cli.main`` *in process*
inside a few worker processes (each imports QML Studio once and runs many cases), with a per-case
time limit: a case that does not finish in time is reported as a hang and its worker is replaced,
so one hang never stops the corpus.

Each case records what must hold: no traceback on stdout or stderr, no hang, and on refusal (exit
code != 0) a one-line ``qmlstudio...: error: ...`` message and every guarded file (the user's
project, CSV, images) unchanged, bytes and mtime. A case whose mutation happens to be valid may exit
0, unless it is marked ``must_refuse``.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import io
import json
import os
import queue
import random
import struct
import subprocess
import sys
import threading
import time
import traceback
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SEED = 23
TRACEBACK = "Traceback (most recent call last)"
_DELETE = object()


@dataclass
class Case:
    id: str
    category: str
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)   # relative path -> content
    dirs: list[str] = field(default_factory=list)
    symlinks: dict[str, str] = field(default_factory=dict)  # relative path -> target
    fifos: list[str] = field(default_factory=list)
    guard: list[str] = field(default_factory=list)          # files that must be unchanged on refusal
    must_refuse: bool = False
    note: str = ""
    timeout: float | None = None                            # seconds, when not the corpus default

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "category": self.category, "argv": self.argv, "guard": self.guard,
                "must_refuse": self.must_refuse, "note": self.note, "timeout": self.timeout}


# --------------------------------------------------------------------------- base projects

def base_projects(demo: dict[str, Any], new: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The projects the mutations start from: the repository's demo and a `qmlstudio new` project,
    both made small and quick (20 samples, one layer, full batch, no classical baselines) so that a
    case that happens to be valid trains one epoch in a few milliseconds."""
    out = {}
    for name, project in (("demo", demo), ("new", new)):
        p = json.loads(json.dumps(project))
        p["dataset"]["options"]["samples"] = 20
        p["ansatz"]["options"]["reps"] = 1
        p["model"]["options"] = {**p["model"].get("options", {}), "baselines": False, "eval_every": 0}
        p["training"]["epochs"] = 1
        p["runs"] = []
        out[name] = p
    return out


def _rebuild_circuit(p: dict[str, Any]) -> None:
    """One real-amplitudes layer on 2 qubits, as `new --reps 1` writes it."""
    gates = []
    k = 0
    for col, kind in enumerate(("ry", "cx", "ry")):
        if kind == "cx":
            gates.append({"gate": "cx", "qubits": [0, 1], "column": col, "block": "real-amplitudes"})
            continue
        for q in (0, 1):
            gates.append({"gate": "ry", "qubits": [q], "params": [f"θ[{k}]"], "column": col,
                          "block": "real-amplitudes"})
            k += 1
    p["circuit"] = {"num_qubits": 2, "gates": gates}


def _leaves(obj: Any, path: tuple = ()) -> list[tuple]:
    out = []
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.append(path + (k,))
            out.extend(_leaves(v, path + (k,)))
    elif isinstance(obj, list):
        for i, v in enumerate(obj[:3]):
            out.append(path + (i,))
            out.extend(_leaves(v, path + (i,)))
    return out


def _set(obj: Any, path: tuple, value: Any) -> Any:
    obj = json.loads(json.dumps(obj))
    cur = obj
    for k in path[:-1]:
        cur = cur[k]
    if value is _DELETE:
        del cur[path[-1]]
    else:
        cur[path[-1]] = value
    return obj


def _dump(obj: Any) -> bytes:
    return json.dumps(obj, indent=1, ensure_ascii=False).encode("utf-8")


VALUE_MUTATIONS: list[tuple[str, Any]] = [
    ("null", None), ("str", "x"), ("list", [1, 2]), ("dict", {"a": 1}), ("true", True),
    ("neg", -1), ("zero", 0), ("big", 10**30), ("int64", 2**64), ("nan", float("nan")),
    ("inf", float("inf")), ("ninf", float("-inf")), ("tiny", 1e-300), ("half", 0.5),
    ("longstr", "a" * 100_000), ("unknown", "no-such-name"), ("delete", _DELETE), ("empty", ""),
    ("emptylist", []), ("float308", 1.7e308),
]


def project_cases(bases: dict[str, dict[str, Any]], rng: random.Random) -> list[Case]:
    cases: list[Case] = []

    def add(cid: str, content: bytes, argv_tail: list[str] | None = None, *, must_refuse: bool = False,
            command: str = "train", note: str = "", timeout: float | None = None) -> None:
        if command == "train":
            argv = ["train", "p.qmls", "--epochs", "1"]
        elif command.startswith("export"):
            suffix = command.split("-")[1] if "-" in command else rng.choice(("qasm", "qpy", "py"))
            argv = ["export", "p.qmls", "--circuit", "out." + suffix]
        elif command == "evaluate":
            argv = ["evaluate", "p.qmls", "--backend", "statevector"]
        else:
            argv = ["analyze", "report", "p.qmls", "--output", "report.html"]
        cases.append(Case(id=f"project-{cid}", category="project", argv=argv + (argv_tail or []),
                          files={"p.qmls": content}, guard=["p.qmls"], must_refuse=must_refuse, note=note,
                          timeout=timeout))

    for bname, base in bases.items():
        leaves = [p for p in _leaves(base) if p[0] != "runs"]
        for path in leaves:
            # one generator per leaf: adding a case elsewhere never changes these
            rng = random.Random(f"{SEED}:{bname}:{path}")
            picks = rng.sample(VALUE_MUTATIONS, 2)
            for mname, value in picks:
                if path[0] in ("app", "created", "modified", "name", "notes") and mname == "longstr":
                    continue
                mutated = _set(base, path, value)
                pid = ".".join(str(x) for x in path)
                command = "export" if (path[0] == "circuit" and rng.random() < 0.5) else "train"
                # without its options the model runs the classical baselines: seconds, not milliseconds
                slow = 60.0 if path[0] == "model" else None
                add(f"{bname}-{pid}-{mname}", _dump(mutated), command=command, timeout=slow)
        rng = random.Random(f"{SEED}:{bname}")
        text = _dump(base)
        # seeds and angles at the edges of what the engine takes
        for v in (2**32 - 1, 2**32, 2**64):
            add(f"{bname}-seed-{v}", _dump(_set(base, ("seed",), v)))
        for v in (1.7e308, -1.7e308, 1e300):
            for suffix in ("qasm", "qpy", "py"):
                add(f"{bname}-angle-{v:g}-{suffix}", _dump(_set(base, ("circuit", "gates", 0, "params"), [v])),
                    command=f"export-{suffix}")
            add(f"{bname}-angle-{v:g}-train", _dump(_set(base, ("circuit", "gates", 0, "params"), [v])))
        # truncated JSON
        for i, cut in enumerate(sorted(rng.sample(range(1, len(text) - 1), 8))):
            add(f"{bname}-truncated-{i}", text[:cut], must_refuse=True)
        add(f"{bname}-empty", b"", must_refuse=True)
        for tag, raw in (("null", b"null"), ("list", b"[]"), ("number", b"42"), ("string", b'"p"'),
                         ("garbage", bytes(range(256)) * 4), ("nul", text[:50] + b"\x00" + text[50:]),
                         ("latin1", text.replace(b'"notes": ""', '"notes": "caf\u00e9"'.encode("latin-1"))),
                         ("bom", b"\xef\xbb\xbf" + text), ("utf16", text.decode().encode("utf-16")),
                         ("trailing", text + b"\n{}"), ("surrogate", text.replace(b'"notes": ""', b'"notes": "\\ud800"'))):
            add(f"{bname}-raw-{tag}", raw, must_refuse=tag not in ("bom", "surrogate", "latin1"))
        # duplicated keys (JSON keeps the last)
        for key, dup in (("seed", '"seed": "x",'), ("epochs", '"epochs": -5,'), ("name", '"name": 7,'),
                         ("dataset", '"dataset": {"name": "moons", "options": {}},')):
            marker = b"{\n"
            add(f"{bname}-dupkey-{key}", text.replace(marker, marker + dup.encode() + b"\n", 1) if key != "epochs"
                else text.replace(b'"epochs":', dup.encode() + b'"epochs":', 1))
            add(f"{bname}-dupkey-{key}-last", text.rstrip()[:-1] + b"," + dup.rstrip(",").encode() + b"}")
        for v in (0, 1, 2, 4, 99, -1, "3", 3.5, None, 2**70):
            add(f"{bname}-schema-{v!r}", _dump(_set(base, ("schema_version",), v)),
                must_refuse=v not in (3, 2, 1))
        add(f"{bname}-schema-missing", _dump(_set(base, ("schema_version",), _DELETE)))
        # depth bombs and huge values
        for depth in (1000, 100_000):
            bomb = text.replace(b'"notes": ""', b'"notes": ' + b"[" * depth + b"]" * depth)
            add(f"{bname}-depth-list-{depth}", bomb)
            bomb = text.replace(b'"options": {}', b'"options": ' + b'{"a":' * depth + b"1" + b"}" * depth, 1)
            add(f"{bname}-depth-dict-{depth}", bomb)
        add(f"{bname}-huge-notes", _dump(_set(base, ("notes",), "n" * 3_000_000)))
        add(f"{bname}-huge-name", _dump(_set(base, ("name",), "n" * 100_000)))
        add(f"{bname}-huge-int-literal", text.replace(b'"seed": 7', b'"seed": 1' + b"0" * 5000))
        add(f"{bname}-huge-float-literal", text.replace(b'"seed": 7', b'"seed": 1e999999'))
        # unknown names
        for part in ("dataset", "encoding", "ansatz", "optimizer", "backend"):
            add(f"{bname}-unknown-{part}", _dump(_set(base, (part, "name"), "no-such-" + part)), must_refuse=part != "ansatz")  # the circuit is explicit: the ansatz name is a label
            add(f"{bname}-unknown-{part}-option", _dump(_set(base, (part, "options", "no_such_option"), 1)))
        add(f"{bname}-unknown-model", _dump(_set(base, ("model", "kind"), "perceptron")), must_refuse=True)
        add(f"{bname}-unknown-gate", _dump(_set(base, ("circuit", "gates", 0, "gate"), "frobnicate")),
            must_refuse=True)
        for q in (-1, 2, 99, 2**40):
            add(f"{bname}-qubit-{q}", _dump(_set(base, ("circuit", "gates", 0, "qubits"), [q])), must_refuse=True)
        add(f"{bname}-qubits-dup", _dump(_set(base, ("circuit", "gates", 2, "qubits"), [0, 0])), must_refuse=True)
        for q in (0, -3, 41, 2**31):
            add(f"{bname}-num-qubits-{q}", _dump(_set(base, ("circuit", "num_qubits"), q)))
        add(f"{bname}-extra-top-key", _dump({**base, "surprise": {"x": [1, 2]}}))
    return cases


def run_cases(trained: dict[str, Any], rng: random.Random) -> list[Case]:
    """Mutations of a project that holds one run, through `evaluate` and `analyze report`."""
    cases = []
    run = trained["runs"][0]
    paths = [("runs", 0) + p for p in _leaves(run)
             if not (len(p) > 1 and isinstance(p[1], int) and p[0] in ("history",))]
    rng.shuffle(paths)
    commands = (["evaluate", "p.qmls", "--backend", "statevector"],
                ["analyze", "report", "p.qmls", "--output", "report.html"],
                ["train", "p.qmls", "--epochs", "1"])
    for path in paths[:100]:
        mname, value = rng.choice(VALUE_MUTATIONS)
        if mname == "longstr":
            mname, value = "str", "x"
        pid = ".".join(str(x) for x in path[2:])
        command = rng.choice(commands)
        cases.append(Case(id=f"run-{pid}-{mname}-{command[0]}", category="project", argv=command,
                          files={"p.qmls": _dump(_set(trained, path, value))}, guard=["p.qmls"]))
    for tag, value in (("backend-list", ["statevector"]), ("backend-null", None), ("backend-str", "statevector"),
                       ("model-int", 2**64), ("model-list", [1]), ("model-str", "vqc")):
        part = tag.split("-")[0]
        for command in (["evaluate", "p.qmls", "--backend", "statevector"],
                        ["analyze", "report", "p.qmls", "--output", "report.html"]):
            cases.append(Case(id=f"run-config-{tag}-{command[0]}", category="project", argv=command,
                              files={"p.qmls": _dump(_set(trained, ("runs", 0, "config", part), value))},
                              guard=["p.qmls"]))
    for rid in ("nope", "", "-1", "0", "last" * 1000):
        cases.append(Case(id=f"run-id-{rid[:10]!r}", category="project",
                          argv=["evaluate", "p.qmls", "--backend", "statevector", "--run", rid],
                          files={"p.qmls": _dump(trained)}, guard=["p.qmls"], must_refuse=rid not in ("last", "")))
    return cases


# --------------------------------------------------------------------------- CSV

def _csv_table(rng: random.Random, rows: int = 12) -> list[list[str]]:
    out = [["a", "b", "label"]]
    for i in range(rows):
        out.append([f"{rng.uniform(-1, 1):.3f}", f"{rng.uniform(-1, 1):.3f}", str(i % 2)])
    return out


def _join(table: list[list[str]], sep: str = ",") -> bytes:
    return ("\n".join(sep.join(r) for r in table) + "\n").encode()


def csv_cases(rng: random.Random) -> list[Case]:
    good = _csv_table(rng)
    variants: dict[str, tuple[bytes, bool]] = {}
    variants["valid"] = (_join(good), False)
    variants["empty"] = (b"", True)
    variants["header-only"] = (b"a,b,label\n", True)
    variants["one-row"] = (_join(good[:2]), True)
    variants["ragged-short"] = (_join(good[:5] + [["1"]] + good[5:]), False)
    variants["ragged-long"] = (_join(good[:5] + [["1", "2", "0", "9", "9"]] + good[5:]), False)
    variants["non-numeric"] = (_join(good[:3] + [["abc", "0.1", "1"]] + good[3:]), False)
    variants["all-text"] = (_join([good[0]] + [["x", "y", str(i % 2)] for i in range(12)]), True)
    variants["one-class"] = (_join([good[0]] + [r[:2] + ["0"] for r in good[1:]]), True)
    variants["all-one-label-text"] = (_join([good[0]] + [r[:2] + ["cat"] for r in good[1:]]), True)
    for token in ("nan", "NaN", "inf", "-inf", "Infinity", "1e309", "-1e309", "1e308", "NA", "?", "null", ""):
        variants[f"cell-{token or 'blank'}"] = (_join(good[:4] + [[token, "0.5", "1"]] + good[4:]), False)
        variants[f"label-{token or 'blank'}"] = (_join(good[:4] + [["0.1", "0.5", token]] + good[4:]), False)
    variants["huge-values"] = (_join([good[0]] + [[f"{rng.uniform(-1, 1)}e300", "1e-300", str(i % 2)]
                                                  for i in range(12)]), False)
    variants["huge-int"] = (_join(good[:3] + [["9" * 400, "1", "0"]] + good[3:]), False)
    variants["bom"] = (b"\xef\xbb\xbf" + _join(good), False)
    variants["nul"] = (_join(good).replace(b"\n", b"\x00\n", 3), False)
    variants["nul-only"] = (b"\x00" * 100, True)
    variants["latin1"] = (_join([["caf\u00e9", "b", "label"]] + good[1:]).decode().encode("latin-1"), False)
    variants["latin1-label"] = (_join([good[0]] + [r[:2] + ["\u00e9t\u00e9" if i % 2 else "hiver"]
                                                   for i, r in enumerate(good[1:])]).decode().encode("latin-1"), False)
    variants["utf16"] = (_join(good).decode().encode("utf-16"), False)
    variants["crlf"] = (_join(good).replace(b"\n", b"\r\n"), False)
    variants["cr-only"] = (_join(good).replace(b"\n", b"\r"), False)
    variants["semicolon"] = (_join(good, ";"), False)
    variants["tabs"] = (_join(good, "\t"), False)
    variants["mixed-delims"] = (_join(good[:6], ",") + _join(good[6:], ";"), False)
    variants["quotes-unclosed"] = (_join(good).replace(b"label", b'"label', 1), False)
    variants["long-line"] = (_join(good[:3] + [["1"] * 20000] + good[3:]), False)
    variants["long-cell"] = (_join(good[:3] + [["1" * 200_000, "1", "0"]] + good[3:]), False)
    variants["many-columns"] = (_join([[f"c{i}" for i in range(300)]] + [[str(rng.random()) for _ in range(299)]
                                                                         + [str(j % 2)] for j in range(12)]), False)
    variants["duplicate-header"] = (_join([["a", "a", "a"]] + good[1:]), False)
    variants["blank-lines"] = (_join(good).replace(b"\n", b"\n\n"), False)
    variants["binary"] = (bytes(rng.getrandbits(8) for _ in range(2000)), True)
    variants["gzip-magic"] = (b"\x1f\x8b\x08\x00" + bytes(200), True)
    variants["no-newline"] = (_join(good).rstrip(b"\n"), False)
    variants["only-label"] = (_join([["label"]] + [[str(i % 2)] for i in range(12)]), True)
    variants["many-classes"] = (_join([good[0]] + [r[:2] + [str(i)] for i, r in enumerate(good[1:])]), False)
    variants["negative-zero"] = (_join([good[0]] + [["-0", "-0.0", str(i % 2)] for i in range(12)]), False)
    variants["constant-features"] = (_join([good[0]] + [["1", "1", str(i % 2)] for i in range(12)]), False)
    option_sets: list[list[str]] = [
        [], ["label_column=0"], ["label_column=-1"], ["label_column=99"], ["label_column=nope"],
        ["label_column=-99"], ["feature_columns=0-1"], ["feature_columns=5-2"], ["feature_columns=0,0"],
        ["feature_columns=x"], ["feature_columns=1-99999999999"], ["missing=drop"], ["missing=impute-mean"],
        ["task=regression"], ["header=no"], ["header=yes"], ["delimiter=;"], ["delimiter=tab"],
        ["delimiter=space"], ["label_column=2", "feature_columns=2"],
    ]
    cases = []
    for name, (content, refuse) in variants.items():
        picks = [[]] + rng.sample(option_sets[1:], 2)
        for opts in picks:
            tag = "-".join(o.replace("=", "_").replace(";", "semi").replace(",", "+") for o in opts) or "default"
            argv = ["new", "p.qmls", "--dataset", "csv", "--dataset-option", "path=data.csv", "--epochs", "1",
                    "--model-option", "baselines=false"]
            for o in opts:
                argv += ["--dataset-option", o]
            cases.append(Case(id=f"csv-{name}-{tag}", category="csv", argv=argv, files={"data.csv": content},
                              guard=["data.csv"], must_refuse=refuse and not opts))
    # `new --force` over the user's project with a CSV that is refused: the old project stays
    for name, (content, refuse) in variants.items():
        if refuse:
            cases.append(Case(id=f"csv-force-over-project-{name}", category="csv",
                              argv=["new", "p.qmls", "--force", "--dataset", "csv", "--dataset-option",
                                    "path=data.csv", "--epochs", "1"],
                              files={"data.csv": content, "p.qmls": b"@NEWPROJECT@"},
                              guard=["data.csv", "p.qmls"], must_refuse=True))
    # a valid project whose CSV changed under it, then trained
    for name in ("empty", "header-only", "non-numeric", "one-class", "cell-nan", "binary", "latin1", "nul"):
        content = variants[name][0]
        cases.append(Case(id=f"csv-train-{name}", category="csv",
                          argv=["train", "p.qmls", "--epochs", "1"],
                          files={"data.csv": content, "p.qmls": b"@CSVPROJECT@"}, guard=["data.csv", "p.qmls"]))
    return cases


# --------------------------------------------------------------------------- IDX

def _idx(dtype: int, dims: list[int], payload: bytes | None = None) -> bytes:
    head = bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)
    if payload is None:
        n = 1
        for d in dims:
            n *= d
        payload = bytes((i * 37) % 256 for i in range(n))
    return head + payload


def idx_cases(rng: random.Random) -> list[Case]:
    n = 8
    images = _idx(0x08, [n, 4, 4])
    labels = _idx(0x08, [n], bytes(i % 2 for i in range(n)))
    bad_images: dict[str, bytes] = {
        "valid": images,
        "truncated-header": images[:6],
        "truncated-data": images[:-5],
        "empty": b"",
        "wrong-magic": b"\x01\x02" + images[2:],
        "wrong-dtype": bytes([0, 0, 0x42]) + images[3:],
        "float-dtype": _idx(0x0D, [n, 4, 4], bytes(n * 16 * 4)),
        "int32-dtype": _idx(0x0C, [n, 4, 4], bytes(n * 16 * 4)),
        "zero-dims": bytes([0, 0, 8, 0]),
        "255-dims": bytes([0, 0, 8, 255]) + struct.pack(">I", 1) * 255 + b"\x00",
        "huge-dims": bytes([0, 0, 8, 3]) + struct.pack(">III", n, 0xFFFFFFFF, 0xFFFFFFFF),
        "huge-count": bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 4, 4) + bytes(100),
        "zero-count": _idx(0x08, [0, 4, 4]),
        "one-dim": _idx(0x08, [n * 16]),
        "zero-width": _idx(0x08, [n, 0, 4]),
        "extra-bytes": images + b"\x00" * 33,
        "gz-garbage": b"\x1f\x8b\x08\x00garbage",
        "text": b"hello world\n" * 10,
    }
    bad_labels: dict[str, bytes] = {
        "labels-short": _idx(0x08, [n - 3], bytes(i % 2 for i in range(n - 3))),
        "labels-long": _idx(0x08, [n + 3], bytes(i % 2 for i in range(n + 3))),
        "labels-2d": _idx(0x08, [n, 2]),
        "labels-truncated": labels[:-3],
        "labels-one-class": _idx(0x08, [n], bytes(n)),
        "labels-wrong-magic": b"\x07\x07" + labels[2:],
        "labels-empty": b"",
        "labels-255": _idx(0x08, [n], bytes([255] * n)),
    }
    cases = []

    def argv(extra: list[str] | None = None) -> list[str]:
        a = ["new", "p.qmls", "--dataset", "idx", "--dataset-option", "images_path=images.idx",
             "--dataset-option", "labels_path=labels.idx", "--epochs", "1", "--features", "2",
             "--model-option", "baselines=false"]
        for e in extra or []:
            a += ["--dataset-option", e]
        return a

    for name, content in bad_images.items():
        for extra in ([], rng.choice([["classes=0,1,2"], ["classes=x"], ["limit=0"], ["classes="], ["limit=3"]])):
            tag = "-".join(extra).replace("=", "_").replace(",", "+") or "default"
            cases.append(Case(id=f"idx-images-{name}-{tag}", category="idx", argv=argv(extra),
                              files={"images.idx": content, "labels.idx": labels},
                              guard=["images.idx", "labels.idx"], must_refuse=name not in ("valid", "extra-bytes", "float-dtype", "int32-dtype")
                              and not extra))
    for name, content in bad_labels.items():
        cases.append(Case(id=f"idx-{name}", category="idx", argv=argv(),
                          files={"images.idx": images, "labels.idx": content},
                          guard=["images.idx", "labels.idx"]))
    cases.append(Case(id="idx-swapped", category="idx", argv=argv(),
                      files={"images.idx": labels, "labels.idx": images}, guard=["images.idx", "labels.idx"]))
    cases.append(Case(id="idx-same-file", category="idx",
                      argv=["new", "p.qmls", "--dataset", "idx", "--dataset-option", "images_path=images.idx",
                            "--dataset-option", "labels_path=images.idx", "--epochs", "1"],
                      files={"images.idx": images}, guard=["images.idx"]))
    return cases


# --------------------------------------------------------------------------- images

def _png(width: int, height: int, pixels: bytes | None = None, color_type: int = 0) -> bytes:
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    if pixels is None:
        channels = {0: 1, 2: 3, 4: 2, 6: 4}[color_type]
        rows = b"".join(b"\x00" + bytes(((x * 7 + y * 13) % 256) for x in range(width * channels))
                        for y in range(height))
        pixels = zlib.compress(rows)
    ihdr = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", pixels) + chunk(b"IEND", b"")


def image_cases(rng: random.Random) -> list[Case]:
    good = _png(6, 6)
    bad: dict[str, bytes] = {
        "valid": good,
        "truncated": good[: len(good) // 2],
        "header-only": good[:8],
        "empty": b"",
        "wrong-magic": b"\x00PNG" + good[4:],
        "bad-crc": good[:30] + bytes([good[30] ^ 0xFF]) + good[31:],
        "bad-idat": _png(6, 6, pixels=b"not zlib at all"),
        "huge-dims": _png(100_000, 100_000, pixels=zlib.compress(b"\x00" * 1000)),
        "zero-dims": _png(0, 0, pixels=zlib.compress(b"")),
        "rgba": _png(6, 6, color_type=6),
        "rgb": _png(6, 6, color_type=2),
        "text-as-png": b"this is not an image\n",
        "jpeg-truncated": b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01",
        "gif": b"GIF89a" + bytes(20),
    }
    cases = []
    for name, content in bad.items():
        files = {f"imgs/zero/{i}.png": good for i in range(3)}
        files.update({f"imgs/one/{i}.png": good for i in range(2)})
        files["imgs/one/bad.png"] = content
        for extra in ([], rng.choice([["size=2"], ["size=64"], ["limit=1"], ["classes=zero"], ["classes=nope"]])):
            tag = "-".join(extra).replace("=", "_") or "default"
            argv = ["new", "p.qmls", "--dataset", "image-folder", "--dataset-option", "folder=imgs",
                    "--dataset-option", "size=2", "--epochs", "1", "--features", "2",
                    "--model-option", "baselines=false"]
            for e in extra:
                argv += ["--dataset-option", e]
            cases.append(Case(id=f"image-{name}-{tag}", category="image", argv=argv, files=files,
                              guard=["imgs/one/bad.png"]))
    layouts = {
        "no-subfolders": {"imgs/a.png": good},
        "one-class": {"imgs/zero/a.png": good, "imgs/zero/b.png": good},
        "empty-classes": {"imgs/zero/.keep": b"", "imgs/one/.keep": b""},
        "non-images": {"imgs/zero/a.txt": b"x", "imgs/one/b.txt": b"y"},
        "all-bad": {"imgs/zero/a.png": b"x", "imgs/one/b.png": b"y"},
    }
    for name, files in layouts.items():
        cases.append(Case(id=f"image-layout-{name}", category="image",
                          argv=["new", "p.qmls", "--dataset", "image-folder", "--dataset-option", "folder=imgs",
                                "--epochs", "1", "--model-option", "baselines=false"],
                          files=files, dirs=["imgs"], guard=list(files)))
    return cases


# --------------------------------------------------------------------------- paths

HANG_PRONE_NOTE = "defect 2: special files are read before their kind is checked (A1)"


def path_cases() -> list[Case]:
    cases: list[Case] = []
    targets: dict[str, dict[str, Any]] = {
        "directory": {"dirs": ["target"]},
        "missing": {},
        "symlink-loop": {"symlinks": {"target": "target"}},
        "symlink-loop2": {"symlinks": {"target": "other", "other": "target"}},
        "dangling-symlink": {"symlinks": {"target": "nowhere"}},
        "dev-null": {"symlinks": {"target": "/dev/null"}},
        "dev-zero": {"symlinks": {"target": "/dev/zero"}, "hang": True},
        "dev-urandom": {"symlinks": {"target": "/dev/urandom"}, "hang": True},
        "fifo": {"fifos": ["target"], "hang": True},
        "proc-self-mem": {"symlinks": {"target": "/proc/self/mem"}},
        "unreadable": {"files": {"target": b"{}"}, "chmod": 0},
    }
    for name, spec in targets.items():
        base = {"dirs": list(spec.get("dirs", [])), "symlinks": dict(spec.get("symlinks", {})),
                "fifos": list(spec.get("fifos", [])), "files": dict(spec.get("files", {}))}
        note = HANG_PRONE_NOTE if spec.get("hang") else ("chmod 000" if "chmod" in spec else "")
        for cmd, argv in (
            ("train", ["train", "target", "--epochs", "1"]),
            ("export", ["export", "target", "--circuit", "out.qasm"]),
            ("evaluate", ["evaluate", "target", "--backend", "statevector"]),
            ("report", ["analyze", "report", "target", "--output", "r.html"]),
            ("new-csv", ["new", "p.qmls", "--dataset", "csv", "--dataset-option", "path=target", "--epochs", "1"]),
            ("new-idx", ["new", "p.qmls", "--dataset", "idx", "--dataset-option", "images_path=target",
                         "--dataset-option", "labels_path=target", "--epochs", "1"]),
            ("new-images", ["new", "p.qmls", "--dataset", "image-folder", "--dataset-option", "folder=target",
                            "--epochs", "1"]),
            ("new-moons-path", ["new", "p.qmls", "--dataset", "moons", "--dataset-option", "path=target",
                                "--epochs", "1"]),
            ("new-output", ["new", "target", "--dataset", "moons", "--epochs", "1"]),
            ("export-output", ["export", "p.qmls", "--circuit", "target"]),
        ):
            if name == "directory" and cmd == "new-images":
                continue  # an empty folder is a legitimate (refused) image folder: covered by the layouts
            needs_project = cmd in ("export-output",)
            files = dict(base["files"])
            if needs_project:
                files["p.qmls"] = b"@NEWPROJECT@"
            reads = cmd in ("train", "export", "evaluate", "report", "new-csv", "new-idx")
            c = Case(id=f"path-{name}-{cmd}", category="path", argv=argv, files=files, dirs=base["dirs"],
                     symlinks=base["symlinks"], fifos=base["fifos"], guard=["p.qmls"] if needs_project else [],
                     must_refuse=reads and name in ("directory", "missing", "symlink-loop", "symlink-loop2",
                                                    "dangling-symlink", "dev-null"),
                     note=note)
            cases.append(c)
    odd = {
        "nul-byte": "bad\x00name.qmls", "long-name": "x" * 5000 + ".qmls", "empty": "",
        "newline": "a\nb.qmls", "dash": "-", "dot": ".", "root": "/", "proc": "/proc/self/status",
    }
    for name, p in odd.items():
        for cmd, argv in (("train", ["train", p, "--epochs", "1"]),
                          ("new-csv", ["new", "p.qmls", "--dataset", "csv", "--dataset-option", f"path={p}"]),
                          ("new-output", ["new", p, "--dataset", "moons"])):
            cases.append(Case(id=f"path-odd-{name}-{cmd}", category="path", argv=argv,
                              must_refuse=cmd != "new-output" or name in ("empty", "dot", "root", "proc", "nul-byte",
                                                                          "long-name")))
    return cases


def flag_cases() -> list[Case]:
    cases = []
    flags = [
        ["--epochs", "-1"], ["--epochs", "0"], ["--epochs", "nan"], ["--epochs", "1e9"], ["--epochs", "x"],
        ["--seed", "-1"], ["--seed", str(2**32)], ["--seed", str(2**80)], ["--seed", "nan"],
        ["--seed", str(2**32 - 1)],
        ["--backend", ""], ["--backend", "nope"], ["--backend", "statevector,threads=-1"],
        ["--backend", "statevector,threads=nan"], ["--backend", "aer-shots,shots=0"],
        ["--backend", "aer-shots,shots=-5"], ["--backend", ":::"], ["--backend", "statevector,="],
        ["--shots", "-1"], ["--shots", "0"], ["--shots", "1e99"], ["--autosave", "-1"], ["--autosave", "nan"],
        ["--autosave", "inf"],
    ]
    for f in flags:
        tag = "_".join(f).replace("-", "")[:40]
        cases.append(Case(id=f"flag-train-{tag}", category="flag", argv=["train", "p.qmls", "--epochs", "1"] + f,
                          files={"p.qmls": b"@NEWPROJECT@"}, guard=["p.qmls"]))
    new_flags = [
        ["--features", "0"], ["--features", "-2"], ["--features", "999"], ["--reps", "-1"], ["--reps", "0"],
        ["--test-size", "0"], ["--test-size", "1"], ["--test-size", "nan"], ["--test-size", "-0.5"],
        ["--validation-size", "1.5"], ["--batch-size", "-3"], ["--init-scale", "nan"], ["--init-scale", "inf"],
        ["--C", "-1"], ["--C", "nan"], ["--encoding", "nope"], ["--ansatz", "nope"], ["--optimizer", "nope"],
        ["--model-option", "nonsense"], ["--model-option", "eval_every=-1"], ["--model-option", "gradient=magic"],
        ["--dataset-option", "samples=-5"], ["--dataset-option", "samples=1e12"], ["--dataset-option", "noise=nan"],
        ["--dataset-option", "seed=-1"], ["--dataset-option", "=3"], ["--encoding-option", "rotation=rq"],
        ["--ansatz-option", "reps=1e6"], ["--optimizer-option", "learning_rate=inf"],
        ["--backend-option", "threads=0"], ["--name", "x" * 100_000], ["--name", "\ud800"],
        ["--seed", "-1"], ["--seed", str(2**32)], ["--seed", str(2**32 - 1)], ["--seed", "1e3"],
    ]
    for f in new_flags:
        tag = "_".join(f).replace("-", "")[:40]
        cases.append(Case(id=f"flag-new-{tag}", category="flag",
                          argv=["new", "p.qmls", "--dataset", "moons", "--dataset-option", "samples=20",
                                "--epochs", "1", "--model-option", "baselines=false", "--reps", "1"] + f))
    return cases


# --------------------------------------------------------------------------- all

def generate(bases: dict[str, dict[str, Any]], trained: dict[str, Any]) -> list[Case]:
    def rng(part: str) -> random.Random:
        return random.Random(f"{SEED}:{part}")

    cases = (project_cases(bases, rng("project")) + run_cases(trained, rng("run")) + csv_cases(rng("csv"))
             + idx_cases(rng("idx")) + image_cases(rng("image")) + path_cases() + flag_cases())
    seen: dict[str, int] = {}
    for c in cases:  # ids are unique and printable
        c.id = c.id.encode("ascii", "backslashreplace").decode("ascii")
        if c.id in seen:
            seen[c.id] += 1
            c.id = f"{c.id}~{seen[c.id]}"
        else:
            seen[c.id] = 0
    return cases


def make_bases(root: Path, demo_file: Path) -> tuple[dict[str, dict[str, Any]], dict[str, Any], dict[str, bytes]]:
    """The base projects (made with the CLI itself in ``root/_base``): returns the bases, a trained
    project and the placeholder files (a fresh `new` project, a CSV project)."""
    from qmlstudio import cli

    work = root.resolve() / "_base"
    work.mkdir(parents=True, exist_ok=True)
    old = Path.cwd()
    os.chdir(work)
    try:
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            if cli.main(["new", "n.qmls", "--dataset", "moons", "--dataset-option", "samples=20", "--reps", "1",
                         "--epochs", "1", "--batch-size", "0", "--model-option", "baselines=false",
                         "--model-option", "eval_every=0", "--force"]) != 0:
                raise RuntimeError("cannot make the base project")
            new = json.loads(Path("n.qmls").read_text(encoding="utf-8"))
            bases = base_projects(json.loads(demo_file.read_text(encoding="utf-8")), new)
            _rebuild_circuit(bases["demo"])
            Path("t.qmls").write_bytes(_dump(bases["new"]))
            if cli.main(["train", "t.qmls", "--epochs", "1"]) != 0:
                raise RuntimeError("cannot train the base project")
            trained = json.loads(Path("t.qmls").read_text(encoding="utf-8"))
            Path("data.csv").write_bytes(_join(_csv_table(random.Random(1))))
            if cli.main(["new", "c.qmls", "--dataset", "csv", "--dataset-option", f"path={work / 'data.csv'}",
                         "--epochs", "1", "--model-option", "baselines=false", "--force"]) != 0:
                raise RuntimeError("cannot make the CSV project")
            csvp = json.loads(Path("c.qmls").read_text(encoding="utf-8"))
            csvp["dataset"]["options"]["path"] = "data.csv"
    finally:
        os.chdir(old)
    placeholders = {"@NEWPROJECT@": _dump(bases["new"]), "@CSVPROJECT@": _dump(csvp)}
    return bases, trained, placeholders


def materialize(cases: list[Case], root: Path, placeholders: dict[str, bytes]) -> None:
    root.mkdir(parents=True, exist_ok=True)
    for c in cases:
        d = root / _dirname(c.id)
        d.mkdir(parents=True, exist_ok=True)
        for rel in c.dirs:
            (d / rel).mkdir(parents=True, exist_ok=True)
        for rel, content in c.files.items():
            f = d / rel
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_bytes(placeholders.get(content.decode("latin-1"), content) if content.startswith(b"@") else content)
        for rel, target in c.symlinks.items():
            (d / rel).symlink_to(target)
        for rel in c.fifos:
            os.mkfifo(d / rel)
        if c.note == "chmod 000":
            for rel in c.files:
                os.chmod(d / rel, 0)
    (root / "manifest.json").write_text(json.dumps([c.to_dict() for c in cases], indent=1), encoding="utf-8")


def _dirname(cid: str) -> str:
    safe = "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in cid)[:80]
    return f"{safe}-{zlib.crc32(cid.encode()) & 0xFFFFFFFF:08x}"


# --------------------------------------------------------------------------- running

def _snapshot(d: Path, guard: list[str]) -> dict[str, Any]:
    out = {}
    for rel in guard:
        p = d / rel
        try:
            st = p.stat()
            out[rel] = [base64.b64encode(zlib.compress(p.read_bytes())).decode() if st.st_size < 10_000_000 else None,
                        st.st_mtime_ns, st.st_size]
        except OSError as exc:
            out[rel] = ["missing", str(exc)]
    return out


def _ends(text: str) -> str:
    return text if len(text) <= 6000 else text[:3000] + "\n[...]\n" + text[-3000:]


def _worker(root: Path) -> None:
    """Runs the cases whose ids arrive on stdin, one JSON line per case on stdout."""
    real_out = os.fdopen(os.dup(1), "w", buffering=1)
    root = root.resolve()
    from qmlstudio import cli

    manifest = {c["id"]: c for c in json.loads((root / "manifest.json").read_text(encoding="utf-8"))}
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        cli.main(["plugins"])  # load the plugins once, outside any case's time
    print(json.dumps({"ready": True}), file=real_out)
    for line in sys.stdin:
        cid = json.loads(line)
        case = manifest[cid]
        d = root / _dirname(cid)
        before = _snapshot(d, case["guard"])
        out, err = io.StringIO(), io.StringIO()
        print(json.dumps({"start": cid}), file=real_out)
        os.chdir(d)
        t0 = time.monotonic()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main(case["argv"])
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        except BaseException:  # noqa: BLE001 - what a console script would print as a traceback
            code = 1
            err.write(traceback.format_exc())
        finally:
            os.chdir(root)
        seconds = time.monotonic() - t0
        after = _snapshot(d, case["guard"])
        print(json.dumps({"id": cid, "code": code, "stdout": _ends(out.getvalue()),
                          "stderr": _ends(err.getvalue()), "seconds": seconds,
                          "changed": sorted(k for k in before if before[k] != after.get(k))}), file=real_out)


def run_corpus(root: Path, ids: list[str], *, workers: int = 2, timeout: float = 8.0,
               hang_prone_timeout: float = 3.0, env: dict[str, str] | None = None) -> dict[str, dict[str, Any]]:
    """Runs the cases ``ids`` (materialized under ``root``) in ``workers`` processes; a case that
    takes longer than ``timeout`` seconds (``hang_prone_timeout`` for the cases known to hang
    before #23 defect 2 is fixed) is recorded as ``{"hang": True}`` and its worker replaced."""
    root = Path(root).resolve()
    manifest = {c["id"]: c for c in json.loads((root / "manifest.json").read_text(encoding="utf-8"))}
    results: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()
    chunks = [ids[i::workers] for i in range(workers)]

    def drive(todo: list[str]) -> None:
        todo = list(todo)
        while todo:
            proc = subprocess.Popen([sys.executable, __file__, str(root), "--worker"], stdin=subprocess.PIPE,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                    start_new_session=True)
            lines: queue.Queue = queue.Queue()

            def read(p=proc, q=lines) -> None:
                for ln in p.stdout:
                    q.put(ln)
                q.put(None)

            threading.Thread(target=read, daemon=True).start()
            threading.Thread(target=proc.stderr.read, daemon=True).start()
            assert proc.stdin is not None
            for cid in todo:
                proc.stdin.write(json.dumps(cid) + "\n")
            proc.stdin.close()
            current = None
            deadline = time.monotonic() + 120  # start-up: imports and plugins
            while True:
                try:
                    ln = lines.get(timeout=max(0.05, deadline - time.monotonic()))
                except queue.Empty:
                    ln = "TIMEOUT"
                if ln is None or ln == "TIMEOUT":
                    with contextlib.suppress(ProcessLookupError):
                        os.killpg(proc.pid, 9)
                    proc.wait()
                    if current is not None:
                        with lock:
                            results[current] = {"id": current, "hang": ln == "TIMEOUT", "crash": ln is None,
                                                "code": proc.returncode}
                        todo.remove(current)
                    elif ln is None:  # the worker died before its first case
                        for cid in todo:
                            results[cid] = {"id": cid, "crash": True, "code": proc.returncode}
                        todo = []
                    break
                msg = json.loads(ln)
                if "ready" in msg:
                    deadline = time.monotonic() + timeout
                elif "start" in msg:
                    current = msg["start"]
                    limit = hang_prone_timeout if manifest[current]["note"] == HANG_PRONE_NOTE else timeout
                    limit = manifest[current].get("timeout") or limit
                    deadline = time.monotonic() + limit
                else:
                    with lock:
                        results[msg["id"]] = msg
                    todo.remove(msg["id"])
                    current = None
                    deadline = time.monotonic() + timeout
            if not todo:
                with contextlib.suppress(Exception):
                    proc.wait(timeout=5)

    threads = [threading.Thread(target=drive, args=(c,)) for c in chunks if c]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def problems(case: dict[str, Any], result: dict[str, Any]) -> list[str]:
    """What is wrong with one case's result (empty when it behaved)."""
    if result.get("hang"):
        return ["hang: no answer within the time limit"]
    if result.get("crash"):
        return [f"the process died (exit status {result.get('code')})"]
    out = []
    code, err = result["code"], result["stderr"]
    if TRACEBACK in err or TRACEBACK in result["stdout"]:
        out.append("traceback: " + err[-1500:])
    if code != 0:
        lines = [ln for ln in err.splitlines() if ln.strip()]
        if not any("error" in ln.lower() and ln.startswith("qmlstudio") for ln in lines):
            out.append(f"exit {code} without a 'qmlstudio: error: ...' message: {err[-500:]!r}")
        if result["changed"]:
            out.append(f"refused (exit {code}) but changed {result['changed']}")
    elif case["must_refuse"]:
        out.append("accepted (exit 0) an input that must be refused")
    return out


def build(root: Path, demo_file: Path) -> list[Case]:
    bases, trained, placeholders = make_bases(root, demo_file)
    cases = generate(bases, trained)
    materialize(cases, root / "cases", placeholders)
    return cases


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--run", action="store_true")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    if args.worker:
        _worker(args.dir)
        return 0
    demo = Path(__file__).resolve().parent.parent / "resources" / "demo.qmls"
    cases = build(args.dir, demo)
    print(f"{len(cases)} cases under {args.dir / 'cases'}")
    if not args.run:
        return 0
    t0 = time.monotonic()
    results = run_corpus(args.dir / "cases", [c.id for c in cases], workers=args.workers)
    bad = 0
    for c in cases:
        found = problems(c.to_dict(), results[c.id])
        if found:
            bad += 1
            print(f"FAIL {c.id}: {found[0][:600]}")
    print(f"{len(cases) - bad} of {len(cases)} cases behaved, {time.monotonic() - t0:.1f} s")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
