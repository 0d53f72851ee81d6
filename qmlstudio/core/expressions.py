"""Angle expressions of a gate: a trainable weight, a data input, a constant, or a formula.

An :class:`Angle` is written as text the way a user types it in the inspector:

* ``θ[3]`` (also ``w[3]`` or ``theta[3]``): trainable weight number 3;
* ``x[0]``: the first data input (the value an encoding binds per sample);
* ``0.5``, ``pi/2``, ``-π/4``: a constant;
* ``2*x[0]``, ``(pi - x[0])*(pi - x[1])``, ``θ[1] + 0.5``: a simple formula of those,
  with ``+ - * / **``, parentheses and ``sin cos tan exp log sqrt abs``.

The text is parsed with :mod:`ast` and the tree is checked node by node; nothing is ever
evaluated by Python, so a project file cannot run code through an angle.
"""

from __future__ import annotations

import ast
import math
import re
from functools import cached_property
from typing import Any, Callable, Mapping

import numpy as np

from qmlstudio.core.errors import ExpressionError

WEIGHT = "θ"
INPUT = "x"
WEIGHT_ALIASES = frozenset({"θ", "w", "theta"})
INPUT_ALIASES = frozenset({"x"})
CONSTANTS = {"pi": math.pi, "π": math.pi, "e": math.e}
FUNCTIONS: dict[str, Callable[[Any], Any]] = {
    "sin": np.sin,
    "cos": np.cos,
    "tan": np.tan,
    "exp": np.exp,
    "log": np.log,
    "sqrt": np.sqrt,
    "abs": np.abs,
}
_BINOPS: dict[type, Callable[[Any, Any], Any]] = {
    ast.Add: lambda a, b: a + b,
    ast.Sub: lambda a, b: a - b,
    ast.Mult: lambda a, b: a * b,
    ast.Div: lambda a, b: a / b,
    ast.Pow: lambda a, b: a**b,
}
#: Longest angle text, both as typed and as saved (the canonical text adds spaces around
#: operators and writes numbers in full, so a file saved by a version that checked only the
#: typed text against 500 characters stays well within it).
MAX_LENGTH = 2500
#: Deepest nesting of operators and calls an angle may have (a sum of 250 terms nests 250 deep).
MAX_DEPTH = 250
#: Longest derivative text the engine builds from an accepted angle.
MAX_DERIVATIVE_LENGTH = 100_000
#: Highest weight or input index an angle may name (a typo must not allocate gigabytes).
MAX_INDEX = 100_000


class Angle:
    """One angle of a gate, immutable and hashable by its canonical text."""

    def __init__(self, text: str | float | int | "Angle") -> None:
        if isinstance(text, Angle):
            self.text, self._tree = text.text, text._tree
            return
        if isinstance(text, bool):
            raise ExpressionError(f"an angle must be a number or an expression, not {text!r}")
        if isinstance(text, (int, float)):
            if not math.isfinite(text):
                raise ExpressionError(f"an angle must be finite, not {text!r}")
            text = repr(float(text))
        if not isinstance(text, str):
            raise ExpressionError(f"an angle must be text or a number, not {type(text).__name__}")
        self._tree = _parse(text)
        self.text = _unparse(self._tree, text)
        if len(self.text) > MAX_LENGTH:
            # What is saved must load again: the limit holds for the text as written out too.
            raise ExpressionError(f"angle {_short(text)}: written out it has {len(self.text):,} characters, "
                                  f"more than the {MAX_LENGTH:,} an angle may have")

    @classmethod
    def _derived(cls, tree: ast.AST, source: "Angle") -> "Angle":
        """An angle the engine builds (a derivative): not held to the typed-text limits, but
        to :data:`MAX_DERIVATIVE_LENGTH`."""
        angle = cls.__new__(cls)
        expression = ast.fix_missing_locations(ast.Expression(body=tree))
        angle.text = _unparse(expression, source.text)
        if len(angle.text) > MAX_DERIVATIVE_LENGTH:
            raise ExpressionError(f"angle {_short(source.text)}: its derivative has {len(angle.text):,} characters, "
                                  f"more than the engine handles ({MAX_DERIVATIVE_LENGTH:,}); simplify the formula")
        try:
            _check_constant_parts(expression.body, angle.text)
        except RecursionError:
            raise ExpressionError(f"angle {_short(source.text)} is nested too deeply to differentiate") from None
        # The tree itself, not its text read back: a folded negative constant written out
        # before ``**`` would read back as a different formula.
        angle._tree = expression
        return angle

    # ----------------------------------------------------------------- builders
    @classmethod
    def weight(cls, index: int) -> "Angle":
        return cls(f"{WEIGHT}[{int(index)}]")

    @classmethod
    def input(cls, index: int) -> "Angle":
        return cls(f"{INPUT}[{int(index)}]")

    @classmethod
    def constant(cls, value: float) -> "Angle":
        return cls(float(value))

    # -------------------------------------------------------------- inspection
    @cached_property
    def weights(self) -> frozenset[int]:
        """Indices of the trainable weights this angle uses."""
        return frozenset(i for kind, i in _symbols(self._tree) if kind == WEIGHT)

    @cached_property
    def inputs(self) -> frozenset[int]:
        """Indices of the data inputs this angle uses."""
        return frozenset(i for kind, i in _symbols(self._tree) if kind == INPUT)

    @property
    def kind(self) -> str:
        """``"weight"``, ``"input"``, ``"constant"`` or ``"expression"``."""
        node = self._tree.body
        if isinstance(node, ast.Subscript):
            return "weight" if node.value.id == WEIGHT else "input"  # type: ignore[attr-defined]
        if not self.weights and not self.inputs:
            return "constant"
        return "expression"

    @property
    def is_constant(self) -> bool:
        return not self.weights and not self.inputs

    # ------------------------------------------------------------- evaluation
    def evaluate(self, weights: Any = (), inputs: Any = ()) -> Any:
        """Value of the angle for the given weights and inputs.

        ``inputs`` may be a 2-D array (samples × features): the result is then one value
        per sample, so a whole batch is evaluated at once.
        """
        weights = np.asarray(weights, dtype=float)
        inputs = np.asarray(inputs, dtype=float)

        def symbol(kind: str, index: int) -> Any:
            if kind == WEIGHT:
                if index >= weights.shape[-1] if weights.ndim else True:
                    raise ExpressionError(f"{self.text}: weight θ[{index}] has no value")
                return weights[..., index]
            if inputs.ndim == 0 or index >= inputs.shape[-1]:
                raise ExpressionError(f"{self.text}: input x[{index}] has no value")
            return inputs[..., index]

        with np.errstate(all="ignore"):  # a value that is not finite is the caller's to refuse, with where it is
            return _evaluate(self._tree.body, symbol)

    def to_qiskit(self, weights: Any, inputs: Any) -> Any:
        """The angle as a qiskit ``ParameterExpression`` (or float) over the given vectors."""

        def symbol(kind: str, index: int) -> Any:
            vector = weights if kind == WEIGHT else inputs
            return vector[index]

        try:
            return _evaluate(self._tree.body, symbol, qiskit=True)
        except (ArithmeticError, ValueError) as exc:  # qiskit folds θ[0] - θ[0] to 0, then 1/0 fails
            raise ExpressionError(f"angle {_short(self.text)} cannot be written as a qiskit parameter expression "
                                  f"({exc})") from None

    def derivative(self, index: int) -> "Angle":
        """∂angle/∂θ[index] as a new angle (used by exact gradients)."""
        try:
            tree = _simplify(_derivative(self._tree.body, (WEIGHT, index)))
        except RecursionError:
            raise ExpressionError(f"angle {_short(self.text)} is nested too deeply to differentiate") from None
        return Angle._derived(tree, self)

    def renumbered(self, weights: Mapping[int, int] | None = None, inputs: Mapping[int, int] | None = None) -> "Angle":
        """A copy whose weight and input indices are mapped through the given tables."""
        tree = _Renumber(weights or {}, inputs or {}).visit(_parse(self.text))
        return Angle(ast.unparse(tree))

    def with_input_shifts(self, offset: int) -> "Angle":
        """The angle with every input ``x[j]`` replaced by ``x[j] + θ[offset + j]``: at zero
        shifts it has the same value, and ``∂/∂θ[offset + j]`` of it is ``∂/∂x[j]``, so the
        engine's gradient by weights gives the gradient by inputs (hybrid models)."""
        if not self.inputs:
            return self
        tree = _ShiftInputs(offset).visit(_parse(self.text))
        return Angle._derived(ast.fix_missing_locations(tree).body, self)

    def pretty(self) -> str:
        """Short text for drawings: ``θ3``, ``x0``, ``π/2``..."""
        text = self.text.replace("pi", "π")
        return re.sub(r"([θx])\[(\d+)\]", r"\1\2", text)

    # ------------------------------------------------------------ dunder bits
    def __eq__(self, other: object) -> bool:
        if isinstance(other, Angle):
            return self.text == other.text
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.text)

    def __repr__(self) -> str:
        return f"Angle({self.text!r})"

    def __str__(self) -> str:
        return self.text


# --------------------------------------------------------------------- parsing
def _short(text: str, width: int = 60) -> str:
    """The text for a message: quoted, and cut in the middle when long."""
    return repr(text) if len(text) <= width else repr(text[: width // 2]) + " … " + repr(text[-width // 4 :])


def _unparse(tree: ast.AST, text: str) -> str:
    try:
        return ast.unparse(tree)
    except RecursionError:
        raise ExpressionError(f"angle {_short(text)} is nested too deeply") from None


def _depth(tree: ast.AST) -> int:
    """How deeply operators and calls nest (counted without recursion)."""
    deepest, stack = 0, [(tree, 0)]
    while stack:
        node, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in ast.iter_child_nodes(node))
    return deepest


def _parse(text: str) -> ast.Expression:
    source = text.strip()
    if not source:
        raise ExpressionError("an angle cannot be empty")
    if len(source) > MAX_LENGTH:
        raise ExpressionError(f"angle {_short(source)}: it has {len(source):,} characters, more than the "
                              f"{MAX_LENGTH:,} an angle may have")
    try:
        tree = ast.parse(source, mode="eval")
    except SyntaxError as exc:
        raise ExpressionError(f"cannot read angle {_short(text)}: {exc.msg}") from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"angle {_short(text)} is nested too deeply") from None
    # Nodes: Expression, then each operator, its operands and a name's context; a Subscript
    # adds two more levels (its name and index): a 250-deep sum is about 253 deep.
    if _depth(tree) > MAX_DEPTH + 3:
        raise ExpressionError(f"angle {_short(text)} nests operators and calls more than {MAX_DEPTH} deep")
    try:
        tree = _Canonical(text).visit(tree)
        tree = ast.fix_missing_locations(tree)
        _check_constant_parts(tree.body, text)
    except RecursionError:
        raise ExpressionError(f"angle {_short(text)} is nested too deeply") from None
    return tree


def _check_constant_parts(node: ast.AST, text: str) -> None:
    """Refuses constant sub-formulas that are not finite reals (``1/0``, ``log(0)``, ``2**10000``)."""
    if not _symbols(node):
        with np.errstate(all="raise"):
            try:
                value = _evaluate(node, lambda kind, index: 0.0)
            except (ArithmeticError, FloatingPointError, ValueError):
                value = None
        if not isinstance(value, (float, np.floating)) or not math.isfinite(value):
            raise ExpressionError(f"angle {_short(text)}: {_short(ast.unparse(node), 40)} is not a finite real number")
        return
    if isinstance(node, ast.BinOp):
        children = [node.left, node.right]
        if isinstance(node.op, ast.Div) and not _symbols(node.right):
            _check_constant_parts(node.right, text)
            if _evaluate(node.right, lambda kind, index: 0.0) == 0:
                raise ExpressionError(f"angle {_short(text)}: division by zero in {_short(ast.unparse(node), 40)}")
    elif isinstance(node, ast.UnaryOp):
        children = [node.operand]
    elif isinstance(node, ast.Call):
        children = list(node.args)
    else:  # θ[i] or x[j]
        children = []
    for child in children:
        _check_constant_parts(child, text)


class _Canonical(ast.NodeTransformer):
    """Checks that only allowed nodes appear and writes symbols in canonical form."""

    def __init__(self, text: str) -> None:
        self.text = text

    def fail(self, what: str) -> ExpressionError:
        return ExpressionError(f"angle {_short(self.text)}: {what}")

    def visit_Expression(self, node: ast.Expression) -> ast.AST:
        node.body = self.visit(node.body)
        return node

    def visit_Constant(self, node: ast.Constant) -> ast.AST:
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            shown = repr(node.value)
            raise self.fail(f"{shown if len(shown) <= 40 else shown[:30] + ' …'} is not a number")
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:  # an integer literal beyond the largest float (about 1.8e308)
            finite = False
        if not finite:
            raise self.fail("numbers must be finite (at most about 1.8e308)")
        return node

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id in CONSTANTS:
            return ast.Name(id="pi" if node.id in ("pi", "π") else node.id, ctx=ast.Load())
        if node.id in WEIGHT_ALIASES | INPUT_ALIASES:
            raise self.fail(f"{node.id} needs an index, as in {node.id}[0]")
        raise self.fail(f"unknown name {node.id!r} (use θ[i], x[j], pi or a number)")

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if not isinstance(node.value, ast.Name):
            raise self.fail("only θ[i] and x[j] may be indexed")
        name = node.value.id
        if name in WEIGHT_ALIASES:
            canonical = WEIGHT
        elif name in INPUT_ALIASES:
            canonical = INPUT
        else:
            raise self.fail(f"unknown name {name!r} (use θ[i] for weights, x[j] for inputs)")
        index = node.slice
        if not (isinstance(index, ast.Constant) and type(index.value) is int and index.value >= 0):
            raise self.fail(f"the index of {name} must be a whole number ≥ 0")
        if index.value > MAX_INDEX:
            raise self.fail(f"the index of {name} must be at most {MAX_INDEX}")
        return ast.Subscript(value=ast.Name(id=canonical, ctx=ast.Load()), slice=ast.Constant(index.value), ctx=ast.Load())

    def visit_BinOp(self, node: ast.BinOp) -> ast.AST:
        if type(node.op) not in _BINOPS:
            raise self.fail(f"operator {type(node.op).__name__} is not allowed (use + - * / **)")
        node.left = self.visit(node.left)
        node.right = self.visit(node.right)
        return node

    def visit_UnaryOp(self, node: ast.UnaryOp) -> ast.AST:
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise self.fail("only + and - may stand before a value")
        node.operand = self.visit(node.operand)
        return node

    def visit_Call(self, node: ast.Call) -> ast.AST:
        if not isinstance(node.func, ast.Name) or node.func.id not in FUNCTIONS:
            raise self.fail(f"unknown function (allowed: {', '.join(sorted(FUNCTIONS))})")
        if len(node.args) != 1 or node.keywords:
            raise self.fail(f"{node.func.id}() takes exactly one argument")
        node.args = [self.visit(node.args[0])]
        return node

    def generic_visit(self, node: ast.AST) -> ast.AST:
        raise self.fail(f"{type(node).__name__} is not allowed in an angle")


class _Renumber(ast.NodeTransformer):
    def __init__(self, weights: Mapping[int, int], inputs: Mapping[int, int]) -> None:
        self.tables = {WEIGHT: weights, INPUT: inputs}

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        kind = node.value.id  # type: ignore[attr-defined]
        index = node.slice.value  # type: ignore[attr-defined]
        node.slice = ast.Constant(self.tables[kind].get(index, index))
        return node


class _ShiftInputs(ast.NodeTransformer):
    def __init__(self, offset: int) -> None:
        self.offset = offset

    def visit_Subscript(self, node: ast.Subscript) -> ast.AST:
        if node.value.id != INPUT:  # type: ignore[attr-defined]
            return node
        shift = ast.Subscript(value=ast.Name(id=WEIGHT, ctx=ast.Load()),
                              slice=ast.Constant(self.offset + node.slice.value), ctx=ast.Load())  # type: ignore[attr-defined]
        return ast.BinOp(left=node, op=ast.Add(), right=shift)


def _symbols(tree: ast.AST) -> list[tuple[str, int]]:
    return [
        (node.value.id, node.slice.value)  # type: ignore[attr-defined]
        for node in ast.walk(tree)
        if isinstance(node, ast.Subscript)
    ]


def _evaluate(node: ast.AST, symbol: Callable[[str, int], Any], qiskit: bool = False) -> Any:
    if isinstance(node, ast.Constant):
        return float(node.value)
    if isinstance(node, ast.Name):
        return CONSTANTS[node.id]
    if isinstance(node, ast.Subscript):
        return symbol(node.value.id, node.slice.value)  # type: ignore[attr-defined]
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_evaluate(node.left, symbol, qiskit), _evaluate(node.right, symbol, qiskit))
    if isinstance(node, ast.UnaryOp):
        value = _evaluate(node.operand, symbol, qiskit)
        return -value if isinstance(node.op, ast.USub) else value
    if isinstance(node, ast.Call):
        arg = _evaluate(node.args[0], symbol, qiskit)
        name = node.func.id  # type: ignore[attr-defined]
        if qiskit and not isinstance(arg, float):
            if name == "sqrt":
                return arg**0.5
            return getattr(arg, name)()
        return FUNCTIONS[name](arg)
    raise ExpressionError(f"cannot evaluate {ast.unparse(node)}")  # pragma: no cover - parse forbids it


# ----------------------------------------------------------- differentiation
def _num(value: float) -> ast.Constant:
    return ast.Constant(float(value))


def _is_const(node: ast.AST, value: float | None = None) -> bool:
    if isinstance(node, ast.Constant):
        return value is None or node.value == value
    return False


def _derivative(node: ast.AST, wrt: tuple[str, int]) -> ast.AST:
    """Symbolic derivative of an expression tree with respect to one symbol."""
    if isinstance(node, (ast.Constant, ast.Name)):
        return _num(0)
    if isinstance(node, ast.Subscript):
        same = (node.value.id, node.slice.value) == wrt  # type: ignore[attr-defined]
        return _num(1 if same else 0)
    if isinstance(node, ast.UnaryOp):
        d = _derivative(node.operand, wrt)
        return ast.UnaryOp(op=ast.USub(), operand=d) if isinstance(node.op, ast.USub) else d
    if isinstance(node, ast.BinOp):
        a, b = node.left, node.right
        da, db = _derivative(a, wrt), _derivative(b, wrt)
        op = node.op
        if isinstance(op, (ast.Add, ast.Sub)):
            return ast.BinOp(left=da, op=op, right=db)
        if isinstance(op, ast.Mult):
            return ast.BinOp(
                left=ast.BinOp(left=da, op=ast.Mult(), right=b),
                op=ast.Add(),
                right=ast.BinOp(left=a, op=ast.Mult(), right=db),
            )
        if isinstance(op, ast.Div):
            numerator = ast.BinOp(
                left=ast.BinOp(left=da, op=ast.Mult(), right=b),
                op=ast.Sub(),
                right=ast.BinOp(left=a, op=ast.Mult(), right=db),
            )
            return ast.BinOp(left=numerator, op=ast.Div(), right=ast.BinOp(left=b, op=ast.Pow(), right=_num(2)))
        if isinstance(op, ast.Pow):
            # d(a**b) = a**b * (db*log(a) + b*da/a); with constant b this is b*a**(b-1)*da
            if _is_const(_simplify(db), 0):
                return ast.BinOp(
                    left=ast.BinOp(left=b, op=ast.Mult(), right=ast.BinOp(left=a, op=ast.Pow(), right=ast.BinOp(left=b, op=ast.Sub(), right=_num(1)))),
                    op=ast.Mult(),
                    right=da,
                )
            log_a = ast.Call(func=ast.Name(id="log", ctx=ast.Load()), args=[a], keywords=[])
            inner = ast.BinOp(
                left=ast.BinOp(left=db, op=ast.Mult(), right=log_a),
                op=ast.Add(),
                right=ast.BinOp(left=ast.BinOp(left=b, op=ast.Mult(), right=da), op=ast.Div(), right=a),
            )
            return ast.BinOp(left=node, op=ast.Mult(), right=inner)
    if isinstance(node, ast.Call):
        arg = node.args[0]
        da = _derivative(arg, wrt)
        name = node.func.id  # type: ignore[attr-defined]

        def call(fn: str, x: ast.AST) -> ast.AST:
            return ast.Call(func=ast.Name(id=fn, ctx=ast.Load()), args=[x], keywords=[])

        outer: ast.AST
        if name == "sin":
            outer = call("cos", arg)
        elif name == "cos":
            outer = ast.UnaryOp(op=ast.USub(), operand=call("sin", arg))
        elif name == "tan":
            outer = ast.BinOp(left=_num(1), op=ast.Div(), right=ast.BinOp(left=call("cos", arg), op=ast.Pow(), right=_num(2)))
        elif name == "exp":
            outer = call("exp", arg)
        elif name == "log":
            outer = ast.BinOp(left=_num(1), op=ast.Div(), right=arg)
        elif name == "sqrt":
            outer = ast.BinOp(left=_num(0.5), op=ast.Div(), right=call("sqrt", arg))
        else:  # abs
            outer = ast.BinOp(left=arg, op=ast.Div(), right=call("abs", arg))
        return ast.BinOp(left=outer, op=ast.Mult(), right=da)
    raise ExpressionError(f"cannot differentiate {ast.unparse(node)}")  # pragma: no cover


def _simplify(node: ast.AST) -> ast.AST:
    """Folds the zeros and ones that differentiation leaves behind."""
    if isinstance(node, ast.UnaryOp):
        operand = _simplify(node.operand)
        if isinstance(operand, ast.Constant):
            return _num(-operand.value if isinstance(node.op, ast.USub) else operand.value)
        return ast.UnaryOp(op=node.op, operand=operand)
    if isinstance(node, ast.BinOp):
        a, b, op = _simplify(node.left), _simplify(node.right), node.op
        if isinstance(a, ast.Constant) and isinstance(b, ast.Constant):
            try:
                folded = _BINOPS[type(op)](float(a.value), float(b.value))
            except (ZeroDivisionError, OverflowError):
                folded = None
            if isinstance(folded, float) and math.isfinite(folded):
                return _num(folded)
            return ast.BinOp(left=a, op=op, right=b)
        if isinstance(op, ast.Add):
            if _is_const(a, 0):
                return b
            if _is_const(b, 0):
                return a
        if isinstance(op, ast.Sub):
            if _is_const(b, 0):
                return a
            if _is_const(a, 0):
                return _simplify(ast.UnaryOp(op=ast.USub(), operand=b))
        if isinstance(op, ast.Mult):
            if _is_const(a, 0) or _is_const(b, 0):
                return _num(0)
            if _is_const(a, 1):
                return b
            if _is_const(b, 1):
                return a
        if isinstance(op, ast.Div) and _is_const(a, 0):
            return _num(0)
        if isinstance(op, ast.Div) and _is_const(b, 1):
            return a
        if isinstance(op, ast.Pow) and _is_const(b, 1):
            return a
        return ast.BinOp(left=a, op=op, right=b)
    if isinstance(node, ast.Call):
        return ast.Call(func=node.func, args=[_simplify(node.args[0])], keywords=[])
    return node
