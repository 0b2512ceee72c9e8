"""Safe evaluation of config expressions (``log(ch_pt / pt)``) over awkward or numpy arrays.

A config is input, not code: the text is parsed with `ast` and only a whitelist of node kinds
(numbers, names, arithmetic, comparisons, boolean logic and calls of the functions in FUNCTIONS)
is accepted. Names that are not functions or constants are branch names. Length and nesting are
bounded (MAX_LENGTH, MAX_DEPTH) and numbers are numpy scalars (a power of a number is float64), so
no expression can exhaust the stack or memory or hang in big-integer arithmetic.
"""

from __future__ import annotations

import ast
import operator
from functools import cached_property
from typing import Any, Callable, Mapping

import awkward as ak
import numpy as np

from gnnjet.errors import ConfigError


def delta_phi(a: Any, b: Any) -> Any:
    """Azimuthal difference a - b wrapped to [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def _where(condition: Any, a: Any, b: Any) -> Any:
    if any(isinstance(v, ak.Array) for v in (condition, a, b)):
        return ak.where(condition, a, b)
    return np.where(condition, a, b)


def _clip(x: Any, low: Any, high: Any) -> Any:
    return np.minimum(np.maximum(x, low), high)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "log": np.log, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "arctan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "hypot": np.hypot,
    "minimum": np.minimum, "maximum": np.maximum, "isfinite": np.isfinite,
    "where": _where, "clip": _clip, "delta_phi": delta_phi,
}
CONSTANTS = {"pi": np.pi, "e": np.e}
MAX_LENGTH = 2000  # characters
MAX_DEPTH = 200  # nesting of the syntax tree (a + b + ... nests one level per term)

_BINARY = {
    ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv,
    ast.Pow: operator.pow, ast.Mod: operator.mod, ast.FloorDiv: operator.floordiv,
    ast.BitAnd: operator.and_, ast.BitOr: operator.or_,
}
_UNARY = {ast.USub: operator.neg, ast.UAdd: operator.pos, ast.Invert: operator.invert, ast.Not: operator.invert}
_COMPARE = {
    ast.Lt: operator.lt, ast.LtE: operator.le, ast.Gt: operator.gt, ast.GtE: operator.ge,
    ast.Eq: operator.eq, ast.NotEq: operator.ne,
}
_BOOL = {ast.And: operator.and_, ast.Or: operator.or_}


def _depth(tree: ast.AST) -> int:
    """Nesting depth of a syntax tree, walked without recursion."""
    deepest, stack = 0, [(tree, 1)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        stack.extend((child, depth + 1) for child in ast.iter_child_nodes(node))
    return deepest


_INT64_MIN, _INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)


class Expression:
    """A parsed, whitelisted expression.

    Args:
        text: the expression, e.g. ``"delta_phi(ch_phi, phi)"``.
        path: the config key it came from, used in error messages.
    """

    def __init__(self, text: str | float, path: str = "expression"):
        self.text = str(text)
        self.path = path
        if len(self.text) > MAX_LENGTH:
            raise ConfigError(f"{path}: expression of {len(self.text)} characters; at most {MAX_LENGTH} are allowed")
        try:
            tree = ast.parse(self.text.strip(), mode="eval")
        except SyntaxError as err:
            raise ConfigError(f"{path}: cannot parse expression {self.text[:80]!r}: {err.msg}") from None
        except (RecursionError, MemoryError):
            raise ConfigError(f"{path}: expression nested too deeply (at most {MAX_DEPTH} levels)") from None
        if _depth(tree.body) > MAX_DEPTH:
            raise ConfigError(f"{path}: expression nested too deeply (at most {MAX_DEPTH} levels): "
                              f"{self.text[:80]!r}")
        self._check(tree.body)
        self._tree = tree.body

    def _reject(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(
            f"{self.path}: {what} is not allowed in expression {self.text!r}; allowed are numbers, branch "
            f"names, + - * / ** %, comparisons, & | ~ and/or/not, and the functions {', '.join(sorted(FUNCTIONS))}"
        )

    def _check(self, node: ast.AST) -> None:
        if isinstance(node, ast.Constant):
            if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
                raise self._reject(node, f"the constant {node.value!r}")
        elif isinstance(node, ast.Name):
            if node.id.startswith("__"):
                raise self._reject(node, f"the name {node.id!r}")
        elif isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            self._check(node.left)
            self._check(node.right)
        elif isinstance(node, ast.UnaryOp) and type(node.op) in _UNARY:
            self._check(node.operand)
        elif isinstance(node, ast.Compare) and all(type(op) in _COMPARE for op in node.ops):
            for child in [node.left, *node.comparators]:
                self._check(child)
        elif isinstance(node, ast.BoolOp) and type(node.op) in _BOOL:
            for child in node.values:
                self._check(child)
        elif isinstance(node, ast.Call):
            if not isinstance(node.func, ast.Name):
                raise self._reject(node, "calling anything but a plain function name")
            if node.func.id not in FUNCTIONS:
                raise self._reject(node, f"the function {node.func.id!r}")
            if node.keywords:
                raise self._reject(node, "a keyword argument")
            for child in node.args:
                self._check(child)
        else:
            raise self._reject(node, f"{type(node).__name__.lower()} syntax")

    @cached_property
    def branches(self) -> frozenset[str]:
        """Names of the input branches the expression reads."""
        called = {id(n.func) for n in ast.walk(self._tree) if isinstance(n, ast.Call)}
        names = {
            n.id for n in ast.walk(self._tree)
            if isinstance(n, ast.Name) and id(n) not in called and n.id not in CONSTANTS
        }
        return frozenset(names)

    def evaluate(self, arrays: Mapping[str, Any]) -> Any:
        """Evaluate over a mapping of branch name -> array (awkward or numpy)."""
        return self._eval(self._tree, arrays)

    def _eval(self, node: ast.AST, arrays: Mapping[str, Any]) -> Any:
        if isinstance(node, ast.Constant):  # numpy scalars: fixed-size arithmetic, never a huge Python integer
            if isinstance(node.value, float):
                return np.float64(node.value)
            if not _INT64_MIN <= node.value <= _INT64_MAX:  # a float like 1e30 (inf past the float64 range)
                return np.float64(float(node.value)) if abs(node.value) < 2**1024 else np.float64(np.inf)
            return np.int64(node.value)
        if isinstance(node, ast.Name):
            if node.id in CONSTANTS:
                return CONSTANTS[node.id]
            return arrays[node.id]
        if isinstance(node, ast.BinOp):
            left, right = self._eval(node.left, arrays), self._eval(node.right, arrays)
            if isinstance(node.op, ast.Pow) and isinstance(left, np.integer):
                left = np.float64(left)  # 10 ** 10 ** 10 -> inf, not an error on integer overflow
            return _BINARY[type(node.op)](left, right)
        if isinstance(node, ast.UnaryOp):
            return _UNARY[type(node.op)](self._eval(node.operand, arrays))
        if isinstance(node, ast.Compare):
            result, left = None, self._eval(node.left, arrays)
            for op, right_node in zip(node.ops, node.comparators):
                right = self._eval(right_node, arrays)
                term = _COMPARE[type(op)](left, right)
                result = term if result is None else result & term
                left = right
            return result
        if isinstance(node, ast.BoolOp):
            values = [self._eval(v, arrays) for v in node.values]
            result = values[0]
            for value in values[1:]:
                result = _BOOL[type(node.op)](result, value)
            return result
        assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*(self._eval(a, arrays) for a in node.args))

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"
