"""The AST-whitelisted expression evaluator."""

import re

import awkward as ak
import numpy as np
import pytest

from gnnjet.data.expressions import Expression, delta_phi
from gnnjet.errors import ConfigError


def test_arithmetic_and_functions_on_numpy():
    arrays = {"a": np.array([1.0, 4.0]), "b": np.array([2.0, 2.0])}
    np.testing.assert_allclose(Expression("log(a) + sqrt(b) * 2 - a ** 2 / b").evaluate(arrays),
                               np.log([1, 4]) + np.sqrt(2) * 2 - np.array([1, 16]) / 2)
    np.testing.assert_array_equal(Expression("where(a > b, a, -b)").evaluate(arrays), [-2.0, 4.0])
    np.testing.assert_array_equal(Expression("clip(a, 1.5, 3)").evaluate(arrays), [1.5, 3.0])
    np.testing.assert_array_equal(Expression("1 < a <= 4").evaluate(arrays), [False, True])
    np.testing.assert_array_equal(Expression("(a > 0) and not (b > 3)").evaluate(arrays), [True, True])
    assert Expression("2 * pi").evaluate({}) == pytest.approx(2 * np.pi)


def test_jagged_broadcast_with_jet_level_branch():
    arrays = ak.Array({"pt": [10.0, 20.0], "ch_pt": [[5.0, 2.5], [10.0]]})
    result = Expression("log(ch_pt / pt)").evaluate(arrays)
    assert ak.to_list(ak.num(result)) == [2, 1]
    np.testing.assert_allclose(ak.to_numpy(ak.flatten(result)), np.log([0.5, 0.25, 0.5]))


def test_delta_phi_wraps():
    np.testing.assert_allclose(delta_phi(np.array([3.0, -3.0]), np.array([-3.0, 3.0])),
                               [6.0 - 2 * np.pi, 2 * np.pi - 6.0])
    assert -np.pi <= delta_phi(np.pi, 0.0) < np.pi


def test_branches_exclude_functions_and_constants():
    assert Expression("where(ch_pt > pt, log(ch_pt), pi)").branches == {"ch_pt", "pt"}


@pytest.mark.parametrize("text, what", [
    ("__import__('os').system('ls')", "calling anything"),
    ("__import__('os')", "the function '__import__'"),
    ("ch_pt.real", "attribute"),
    ("(lambda: 1)()", "calling anything"),
    ("lambda x: x", "lambda"),
    ("ch_pt[0]", "subscript"),
    ("log(ch_pt, base=2)", "keyword"),
    ("open('f')", "the function 'open'"),
    ("'abc'", "the constant 'abc'"),
    ("[1, 2]", "list"),
    ("__class__", "the name '__class__'"),
])
def test_rejects_unsafe_constructs(text, what):
    with pytest.raises(ConfigError, match=rf"data\.selection: .*({what})"):
        Expression(text, "data.selection")


def test_syntax_error_names_path():
    with pytest.raises(ConfigError, match=r"task\.target: cannot parse expression"):
        Expression("log(pt_gen / ", "task.target")


@pytest.mark.parametrize("text, message", [
    ("+".join(["ch_pt"] * 2000), "characters; at most 2000"),
    ("*".join(["x"] * 500), "nested too deeply"),
    ("-" * 1500 + "x", "nested too deeply"),
    ("-" * 10000 + "x", "characters; at most 2000"),
    ("(" * 300 + "x" + ")" * 300, "expression"),
])
def test_hostile_expressions_are_refused_at_parse_time(text, message):
    with pytest.raises(ConfigError, match=message):
        Expression(text, "data.node_types.charged.features[0]")


def test_huge_powers_evaluate_in_float64_without_hanging():
    with np.errstate(over="ignore"):
        assert Expression("10 ** 10 ** 10").evaluate({}) == np.inf
        assert Expression("2 ** 0.5 * x").evaluate({"x": np.array([2.0])})[0] == pytest.approx(2 ** 1.5)
    assert Expression("+".join(["x"] * 150)).evaluate({"x": np.array([1.0])})[0] == 150  # long but legitimate


def test_integer_constants_beyond_int64_are_large_floats():
    values = {"pt": np.array([1.0, 2.0])}
    np.testing.assert_array_equal(Expression("pt * 100000000000000000000000", "x").evaluate(values), [1e23, 2e23])
    np.testing.assert_array_equal(Expression("pt - 1" + "0" * 400, "x").evaluate(values), [-np.inf, -np.inf])
    assert Expression("9223372036854775807 + 0", "x").evaluate({}) == np.iinfo(np.int64).max  # int64 stays exact


def test_reductions_give_one_value_per_jet():
    from gnnjet.errors import DataError

    arrays = {"sv_pt": ak.Array([[1.0, 5.0], [], [3.0]]), "pt": np.array([10.0, 20.0, 30.0])}
    assert Expression("count(sv_pt)").evaluate(arrays).tolist() == [2, 0, 1]
    assert Expression("sum(sv_pt > 2)").evaluate(arrays).tolist() == [1, 0, 1]
    np.testing.assert_allclose(Expression("max(sv_pt) / pt").evaluate(arrays).to_numpy(), [0.5, np.nan, 0.1])
    np.testing.assert_allclose(Expression("mean(sv_pt)").evaluate(arrays).to_numpy(), [3.0, np.nan, 3.0])
    with pytest.raises(DataError, match=r"count\(...\) reduces a collection's values"):
        Expression("count(pt)").evaluate(arrays)


def test_named_variables_are_substituted_in_dependency_order():
    from gnnjet.data.expressions import compile_variables

    variables = compile_variables({"ratio": "lead / pt", "lead": "max(ch_pt)", "nsv": "count(sv_pt)"})
    selection = Expression("nsv >= 1 and ratio > 0.2", "data.selection", variables)
    assert selection.branches == {"sv_pt", "ch_pt", "pt"} and selection.resolved != selection.text
    arrays = {"sv_pt": ak.Array([[1.0], [], [2.0]]), "ch_pt": ak.Array([[5.0, 1.0], [9.0], [1.0]]),
              "pt": np.array([10.0, 10.0, 10.0])}
    assert selection.evaluate(arrays).tolist() == [True, False, False]
    assert Expression("log(pt)", "x", variables).resolved == "log(pt)"  # no variable: the text, unchanged


@pytest.mark.parametrize("definitions, message", [
    ({"a": "b + 1", "b": "a * 2"}, r"data.variables: the variables a -> b -> a use each other in a cycle"),
    ({"log": "pt"}, r"data.variables.log: the name is a function or a constant"),
    ({f"v{i}": f"v{i - 1} + v{i - 1}" if i else "pt" for i in range(20)}, r"grows past 20000 terms"),
])
def test_bad_variables_are_one_config_error(definitions, message):
    from gnnjet.data.expressions import compile_variables

    with pytest.raises(ConfigError, match=message):
        compile_variables(definitions)


def test_weaver_cores_namespaced_spellings():
    """weaver-core's data configs write np.log, ak.ones_like, ak.sum(x, axis=1), math.pi: the same whitelist under
    those names; the names np/ak/math are not branches, and nothing else of the modules can be reached."""
    arrays = {"part_px": ak.Array([[3.0, 1.0], [0.0]]), "part_py": ak.Array([[4.0, 0.0], [2.0]]),
              "jet_pt": np.array([10.0, 20.0])}
    pt = Expression("np.hypot(part_px, part_py)")
    assert pt.branches == {"part_px", "part_py"} and pt.evaluate(arrays).tolist() == [[5.0, 1.0], [2.0]]
    assert Expression("ak.ones_like(part_px)").evaluate(arrays).tolist() == [[1.0, 1.0], [1.0]]
    assert Expression("ak.sum(part_px, axis=1)").evaluate(arrays).tolist() == [4.0, 0.0]
    assert Expression("ak.max(part_py, axis=-1) / jet_pt").evaluate(arrays).tolist() == [0.4, 0.1]
    assert Expression("ak.num(part_px)").evaluate(arrays).tolist() == [2, 1]
    assert Expression("math.pi * 2").evaluate(arrays) == pytest.approx(2 * np.pi)


@pytest.mark.parametrize("text, what", [
    ("np.load(x)", "the function 'np.load'"),
    ("np.__dict__", "the attribute 'np.__dict__'"),
    ("os.system(x)", "the function 'os.system'"),
    ("np.pi.real", "the attribute 'np.pi.real'"),
    ("ak.sum(x, axis=y)", "a keyword argument other than axis=<integer>"),
    ("np.log(x, out=y)", "a keyword argument other than axis=<integer>"),
    ("x.y", "the attribute 'x.y'"),
])
def test_namespaced_names_outside_the_whitelist_are_refused(text, what):
    with pytest.raises(ConfigError, match=re.escape(what)):
        Expression(text)
