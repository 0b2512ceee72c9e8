"""Safe evaluation of config expressions (``log(ch_pt / pt)``) over awkward or numpy arrays.

A config is input, not code: the text is parsed with `ast` and only a whitelist of node kinds
(numbers, names, arithmetic, comparisons, boolean logic and calls of the functions in FUNCTIONS)
is accepted. Names that are not functions or constants are branch names, or the config's named variables
(data.variables: their expressions are substituted, `compile_variables`). count, sum, min, max and mean reduce a
collection's values to one per jet (``count(sv_pt) >= 2``, ``sum(ch_pt > 1)``, ``max(ch_pt) / pt``). Length,
nesting and the size after substitution are bounded (MAX_LENGTH, MAX_DEPTH, MAX_NODES) and numbers are numpy
scalars (a power of a number is float64), so no expression can exhaust the stack or memory or hang in
big-integer arithmetic.
"""

from __future__ import annotations

import ast
import copy
import operator
from functools import cached_property
from typing import Any, Callable, Mapping

import awkward as ak
import numpy as np

from gnnjet.errors import ConfigError, DataError


def delta_phi(a: Any, b: Any) -> Any:
    """Azimuthal difference a - b wrapped to [-pi, pi)."""
    return (a - b + np.pi) % (2 * np.pi) - np.pi


def _where(condition: Any, a: Any, b: Any) -> Any:
    if any(isinstance(v, ak.Array) for v in (condition, a, b)):
        return ak.where(condition, a, b)
    return np.where(condition, a, b)


def _clip(x: Any, low: Any, high: Any) -> Any:
    return np.minimum(np.maximum(x, low), high)


def _per_jet(name: str, reduce: Callable[[ak.Array], Any]) -> Callable[[Any], Any]:
    """A reduction of a collection's values [J, var] to one value per jet [J] (NaN for an empty min, max or
    mean); a value that is already one per jet is a DataError naming the function."""
    def reduced(values: Any) -> Any:
        if not isinstance(values, ak.Array) or values.ndim < 2:
            raise DataError(f"{name}(...) reduces a collection's values (ch_pt, sv_mass > 2, ...) to one per jet; "
                            "it was given one value per jet already")
        return ak.fill_none(reduce(values), np.nan)
    return reduced


REDUCTIONS: dict[str, Callable[..., Any]] = {
    "count": _per_jet("count", lambda v: ak.num(v, axis=1)),
    "sum": _per_jet("sum", lambda v: ak.sum(v, axis=1)),
    "min": _per_jet("min", lambda v: ak.min(v, axis=1)),
    "max": _per_jet("max", lambda v: ak.max(v, axis=1)),
    "mean": _per_jet("mean", lambda v: ak.mean(v, axis=1)),
}


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "log": np.log, "log10": np.log10, "log1p": np.log1p, "exp": np.exp, "sqrt": np.sqrt,
    "abs": np.abs, "sign": np.sign, "floor": np.floor, "ceil": np.ceil,
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "arcsin": np.arcsin, "arccos": np.arccos,
    "arctan": np.arctan, "arctan2": np.arctan2, "sinh": np.sinh, "cosh": np.cosh, "tanh": np.tanh,
    "arcsinh": np.arcsinh, "arccosh": np.arccosh, "arctanh": np.arctanh, "hypot": np.hypot,
    "minimum": np.minimum, "maximum": np.maximum, "isfinite": np.isfinite,
    "where": _where, "clip": _clip, "delta_phi": delta_phi, **REDUCTIONS,
}
CONSTANTS = {"pi": np.pi, "e": np.e}


def _ak_reduction(reduce: Callable[..., Any]) -> Callable[..., Any]:
    """awkward's reduction with weaver-core's spelling (``ak.sum(x, axis=1)``); an empty min/max/mean is NaN."""
    def reduced(values: Any, axis: Any = None) -> Any:
        return ak.fill_none(reduce(values, axis=axis), np.nan)
    return reduced


# weaver-core's data configs spell functions with their module (np.log, ak.ones_like, math.pi): the same whitelist
# under those names, plus what such configs use besides. Only `namespace.name` of these tables is accepted: no other
# attribute is ever looked up, so a config cannot reach the modules themselves.
_NUMPY = {**{name: f for name, f in FUNCTIONS.items() if name not in REDUCTIONS and name != "delta_phi"},
          "ones_like": ak.ones_like, "zeros_like": ak.zeros_like, "square": np.square, "absolute": np.abs,
          "power": np.power, "log2": np.log2, "expm1": np.expm1, "nan_to_num": np.nan_to_num,
          "logical_and": np.logical_and, "logical_or": np.logical_or, "logical_not": np.logical_not}
_AWKWARD = {"ones_like": ak.ones_like, "zeros_like": ak.zeros_like, "where": _where, "num": ak.num,
            "count": ak.count, "sum": _ak_reduction(ak.sum), "min": _ak_reduction(ak.min),
            "max": _ak_reduction(ak.max), "mean": _ak_reduction(ak.mean), "nan_to_num": ak.nan_to_num}
_MATH = {"log": np.log, "log10": np.log10, "exp": np.exp, "sqrt": np.sqrt, "sin": np.sin, "cos": np.cos,
         "tan": np.tan, "atan2": np.arctan2, "hypot": np.hypot, "fabs": np.abs}
NAMESPACES: dict[str, dict[str, Callable[..., Any]]] = {
    "np": _NUMPY, "numpy": _NUMPY, "ak": _AWKWARD, "awkward": _AWKWARD, "math": _MATH}
NAMESPACE_CONSTANTS = {(ns, name): value for ns in ("np", "numpy", "math") for name, value in CONSTANTS.items()}
MAX_LENGTH = 2000  # characters
MAX_DEPTH = 200  # nesting of the syntax tree (a + b + ... nests one level per term)
MAX_NODES = 20_000  # syntax nodes after the named variables are substituted (v2 = v1 + v1, v3 = v2 + v2, ...)

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

    def __init__(self, text: str | float, path: str = "expression", variables: Mapping[str, Expression] | None = None):
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
        self._tree = _substituted(tree.body, variables or {}, self) if variables else tree.body
        self.substituted = self._tree is not tree.body  # whether it used data.variables

    def _reject(self, node: ast.AST, what: str) -> ConfigError:
        return ConfigError(
            f"{self.path}: {what} is not allowed in expression {self.text!r}; allowed are numbers, branch "
            f"names, + - * / ** %, comparisons, & | ~ and/or/not, and the functions {', '.join(sorted(FUNCTIONS))} "
            "(also spelled np.<name>, and ak.ones_like, ak.num, ak.sum(x, axis=1), ..., math.pi as in weaver-core)"
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
        elif isinstance(node, ast.Attribute):
            if _namespaced(node) not in NAMESPACE_CONSTANTS:
                raise self._reject(node, f"the attribute {ast.unparse(node)!r}")
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and _namespaced(node.func) is not None:
                namespace, name = _namespaced(node.func)  # type: ignore[misc]
                if name not in NAMESPACES.get(namespace, {}):
                    raise self._reject(node, f"the function {ast.unparse(node.func)!r}")
                for keyword in node.keywords:  # axis=1: a whole number only
                    if keyword.arg != "axis" or not _is_integer(keyword.value):
                        raise self._reject(node, "a keyword argument other than axis=<integer>")
            elif not isinstance(node.func, ast.Name):
                raise self._reject(node, "calling anything but a plain function name")
            elif node.func.id not in FUNCTIONS:
                raise self._reject(node, f"the function {node.func.id!r}")
            elif node.keywords:
                raise self._reject(node, "a keyword argument")
            for child in node.args:
                self._check(child)
        else:
            raise self._reject(node, f"{type(node).__name__.lower()} syntax")

    @property
    def resolved(self) -> str:
        """What the expression computes, as text: its own text, or with data.variables substituted (what a cache
        key must hash: a variable's new definition changes the arrays)."""
        return ast.unparse(self._tree) if self.substituted else self.text

    @cached_property
    def branches(self) -> frozenset[str]:
        """Names of the input branches the expression reads."""
        not_branches = _function_names(self._tree)
        names = {
            n.id for n in ast.walk(self._tree)
            if isinstance(n, ast.Name) and id(n) not in not_branches and n.id not in CONSTANTS
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
        if isinstance(node, ast.Attribute):
            return NAMESPACE_CONSTANTS[_namespaced(node)]  # type: ignore[index]
        assert isinstance(node, ast.Call)
        args = [self._eval(a, arrays) for a in node.args]
        if isinstance(node.func, ast.Attribute):
            namespace, name = _namespaced(node.func)  # type: ignore[misc]
            keywords = {k.arg: _integer(k.value) for k in node.keywords}  # axis=..., checked by _check
            return NAMESPACES[namespace][name](*args, **keywords)
        assert isinstance(node.func, ast.Name)
        return FUNCTIONS[node.func.id](*args)

    def __repr__(self) -> str:
        return f"Expression({self.text!r})"


def _namespaced(node: ast.Attribute) -> tuple[str, str] | None:
    """(namespace, name) of ``np.log``-like attributes of a plain name; None for anything else."""
    return (node.value.id, node.attr) if isinstance(node.value, ast.Name) else None


def _is_integer(node: ast.expr) -> bool:
    """A whole-number literal, optionally negated (``1``, ``-1``)."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        node = node.operand
    return isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) < 64


def _integer(node: ast.expr) -> int:
    """The value of a literal `_is_integer` accepted."""
    if isinstance(node, ast.UnaryOp):
        return -_integer(node.operand)
    return int(node.value)  # type: ignore[attr-defined]


def _function_names(tree: ast.AST) -> set[int]:
    """ids of the Name nodes that name functions or namespaces (np of np.log), not branches."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            found.add(id(node.func))
        if isinstance(node, ast.Attribute):
            found.add(id(node.value))
    return found


def _substituted(tree: ast.expr, variables: Mapping[str, Expression], owner: Expression) -> ast.expr:
    """`tree` with every name of `variables` replaced by (a copy of) its expression's tree; an expansion past
    MAX_NODES is a ConfigError naming `owner`'s key."""
    class Substitute(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.AST:  # noqa: N802 - ast's visitor naming
            return copy.deepcopy(variables[node.id]._tree) if node.id in variables else node

    called = _function_names(tree)
    if not any(isinstance(n, ast.Name) and n.id in variables and id(n) not in called for n in ast.walk(tree)):
        return tree
    result = Substitute().visit(copy.deepcopy(tree))
    if sum(1 for _ in ast.walk(result)) > MAX_NODES:
        raise ConfigError(f"{owner.path}: with data.variables substituted, {owner.text[:80]!r} grows past "
                          f"{MAX_NODES} terms")
    return result


def compile_variables(definitions: Mapping[str, str], path: str = "data.variables") -> dict[str, Expression]:
    """The named variables {name: expression text} parsed, each with the variables it uses substituted; a name
    that shadows a function or a constant, and variables that use each other in a cycle, are ConfigErrors."""
    compiled: dict[str, Expression] = {}
    raw = {name: Expression(text, f"{path}.{name}") for name, text in definitions.items()}
    for name in raw:
        if name in FUNCTIONS or name in CONSTANTS or name in NAMESPACES:
            raise ConfigError(f"{path}.{name}: the name is a function or a constant of the expressions; choose another")

    def compile_one(name: str, chain: tuple[str, ...]) -> Expression:
        if name in compiled:
            return compiled[name]
        if name in chain:
            raise ConfigError(f"{path}: the variables {' -> '.join((*chain[chain.index(name):], name))} use each "
                              "other in a cycle")
        for used in sorted(raw[name].branches & set(raw)):
            compile_one(used, (*chain, name))
        compiled[name] = Expression(definitions[name], f"{path}.{name}", compiled)
        return compiled[name]

    for name in raw:
        compile_one(name, ())
    return compiled
