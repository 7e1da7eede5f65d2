"""Rules declared on config fields (`toys.engine.config.setting`): bounds that are formulas over
other fields, how they are checked, described and refused."""

import dataclasses

import pytest
from hypothesis import given
from hypothesis import strategies as st

from toys.engine.config import ConfigError, check_fields, field_expression, setting


@dataclasses.dataclass(frozen=True)
class Inner:
    d: int = setting(8, low=1)


@dataclasses.dataclass(frozen=True)
class Outer:
    sizes: tuple[int, ...] = setting((16, 32), low=2)
    k: int = setting(4, low=1, high="min(sizes)")
    ratio: int = setting(2, low=1, high="inner.d * max(sizes) // 4")
    p10: float = setting(0.3, low=0, high=1)
    p11: float = setting(0.2, low=0, low_open=True, high="1 - p10")
    shown: int = setting(16, choices="sizes")
    kinds: tuple[str, ...] = setting(("a", "b"), choices=("a", "b", "c"), distinct=True)
    worded: float = setting(1.0, low=0, allowed="[0, what validate() computes]")
    inner: Inner = Inner()


def test_a_formula_reads_fields_nested_fields_and_min_max_int():
    config = Outer()
    assert field_expression("min(sizes)", config) == 16
    assert field_expression("inner.d * max(sizes) // 4", config) == 64
    assert field_expression("int(p10 * 10) + 1", config) == 4
    assert field_expression("min(k, *sizes)", config) == 4


@given(st.lists(st.integers(2, 100), min_size=1, max_size=4), st.integers(-5, 120))
def test_a_formula_bound_refuses_exactly_what_its_value_refuses(sizes, k):
    config = Outer(sizes=tuple(sizes), k=k, shown=sizes[0])
    if 1 <= k <= min(sizes):
        check_fields(config)
        return
    with pytest.raises(ConfigError) as error:
        check_fields(config)
    # the formula and its value, in one line
    assert str(error.value) == f"k: got {k}, allowed range [1, min(sizes) = {min(sizes)}]"


def test_choices_from_another_field_and_a_float_formula():
    with pytest.raises(ConfigError, match=r"^shown: got 64, allowed values 16, 32 \(one of sizes\)$"):
        check_fields(Outer(shown=64))
    with pytest.raises(ConfigError, match=r"^p11: got 0\.8, allowed range \(0, 1 - p10 = 0\.7\]$"):
        check_fields(Outer(p11=0.8))
    check_fields(Outer(p10=0.5, p11=0.5))  # the bound itself is allowed


def test_fixed_rules_are_judged_before_formulas_that_use_them():
    # an empty `sizes` is refused as such, not as a failure to take min() of nothing
    with pytest.raises(ConfigError, match=r"^sizes: got an empty list"):
        check_fields(Outer(sizes=()))


@pytest.mark.parametrize(
    "formula", ["__import__('os')", "sizes.__class__", "open('x')", "[x for x in sizes]", "sizes[0]", "lambda: 1", "k if k else 1"]
)
def test_a_formula_that_is_not_arithmetic_on_fields_is_refused_where_it_is_declared(formula):
    with pytest.raises(ValueError, match="only field names"):
        setting(1, low=1, high=formula)


def test_help_describes_a_formula_with_its_value():
    from experiments.runner import help_text

    rows = {row["key"]: row["allowed"] for row in help_text.describe(Outer())}
    assert rows["k"] == "[1, min(sizes) = 16]"
    assert rows["ratio"] == "[1, inner.d * max(sizes) // 4 = 64]"
    assert rows["shown"] == "one of sizes = 16, 32"


def test_a_distinct_list_refuses_a_value_given_twice():
    with pytest.raises(ConfigError, match=r"^kinds: a given more than once; allowed: each one of a, b, c, each once$"):
        check_fields(Outer(kinds=("a", "b", "a")))
    check_fields(Outer(kinds=("c",)))


def test_a_bound_beside_a_rule_in_words_is_checked_and_the_words_are_shown():
    with pytest.raises(ConfigError, match=r"^worded: got -1\.0, allowed \[0, what validate\(\) computes\]$"):
        check_fields(Outer(worded=-1.0))
    with pytest.raises(ConfigError, match=r"^worded: got inf, allowed \[0, what validate\(\) computes\] \(finite values\)$"):
        check_fields(Outer(worded=float("inf")))
    check_fields(Outer(worded=1e9))  # the rest of the rule is validate()'s
