"""Parsing Q filters: the accepted forms, and every rejected filter with the message it gets."""

from __future__ import annotations

import contextlib
import time
from datetime import datetime, timezone
from typing import Any

import pytest

from jitlite.storage import FilterError, Q, parse_filter
from jitlite.storage.qfilter import MAX_DEPTH, MAX_Q_CALLS, MAX_SOURCE_CHARS, MAX_TERMS, MAX_VALUES


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("Q(userId='u1')", Q(userId="u1")),
        ("Q(age__gt=18)", Q(age__gt=18)),
        ("Q(age__gte=-5)", Q(age__gte=-5)),
        ("Q(score__lt=+1.5)", Q(score__lt=1.5)),
        ("Q(a=1, b='x')", Q(a=1, b="x")),
        ("Q(name=None)", Q(name=None)),
        ("Q(active=True)", Q(active=True)),
        ("Q(status__in=['a', 'b'])", Q(status__in=["a", "b"])),
        ("Q(status__nin=('a',))", Q(status__nin=["a"])),
        ("Q(age__range=[1, 2])", Q(age__range=(1, 2))),
        ("Q(name__isnull=False)", Q(name__isnull=False)),
        ("Q('age', '>', 18)", Q("age", ">", 18)),
        ("Q('age', '>', 18)", Q(age__gt=18)),
        ("Q('name', '=', 'x')", Q(name="x")),
        ("Q('name', '==', 'x')", Q(name="x")),
        ("Q('name', '!=', 'x')", Q(name__ne="x")),
        ("Q('age', 'range', [1, 9])", Q(age__range=[1, 9])),
        ("Q('name', 'startswith', 'a%')", Q(name__startswith="a%")),
        ("Q(a=1) & Q(b=2)", Q(a=1) & Q(b=2)),
        ("Q(a=1) | Q(b=2)", Q(a=1) | Q(b=2)),
        ("~Q(a=1)", ~Q(a=1)),
        ("(Q(a=1) | Q(b=2)) & ~Q(c=3)", (Q(a=1) | Q(b=2)) & ~Q(c=3)),
        ("Q(userId='u1') & ~Q(status__in=['offline'])", Q(userId="u1") & ~Q(status__in=["offline"])),
        ("Q(Q(a=1), Q.AND, Q(b=2))", Q(a=1) & Q(b=2)),
        ("Q(Q(a=1), Q.OR, Q(b=2))", Q(a=1) | Q(b=2)),
        ("Q()", Q()),
        ("", Q()),
        ("Q() & Q(a=1)", Q(a=1)),
        ("Q(age=-9223372036854775808)", Q(age=-(2**63))),
        ("Q(Q('status', '=', 'active'))", Q(status="active")),
        ("Q(Q(Q(a=1) | Q(b=2)))", Q(a=1) | Q(b=2)),
        ("Q(Q('age', 'gt', 18), Q.AND, Q('age', 'lte', 30))", Q(age__gt=18) & Q(age__lte=30)),
        ("Q('name', 'nlike', 'x')", Q(name__nlike="x")),
        ("Q('tags', 'likeany', ['A', 'B'])", Q(tags__likeany=["A", "B"])),
        ("Q('tags', 'nlikeany', ('X',))", Q(tags__nlikeany=["X"])),
        ("Q('remark', 'isnull', 1)", Q(remark__isnull=True)),
        ("Q(remark__isnull=0)", Q(remark__isnull=False)),
        ("Q('createTime', 'year', 2023)", Q(createTime__year=2023)),
        ("Q(createTime__month=10) & Q(createTime__day=1)", Q(createTime__month=10) & Q(createTime__day=1)),
    ],
)
def test_accepted_forms_parse_to_the_same_q_as_python(source: str, expected: Q) -> None:
    assert parse_filter(source) == expected


def test_a_long_flat_chain_is_not_deep_nesting() -> None:
    q = parse_filter(" | ".join(f"Q(a={i})" for i in range(500)))
    assert repr(q).count("Q(a=") == 500


def test_the_largest_filters_allowed_parse() -> None:
    # Exactly at every bound: 500 Q(...) calls and terms, 10,000 values, 32 levels of nesting.
    many = " | ".join(f"Q(a={i})" for i in range(MAX_Q_CALLS - 1))
    assert parse_filter(f"Q(b__in=[{','.join(['1'] * (MAX_VALUES - MAX_Q_CALLS + 1))}]) | {many}").node is not None
    assert parse_filter("Q(" + ", ".join(f"a{i}=1" for i in range(MAX_TERMS)) + ")").node is not None
    assert parse_filter("~" * (MAX_DEPTH - 2) + "Q(a=1)").node is not None  # the value is a level too


def test_only_real_calls_joins_and_brackets_count_against_the_bounds() -> None:
    # What strings and comments hold does not count; the real calls do.
    calls = " | ".join("Q(a='Q(|&(')" for _ in range(MAX_Q_CALLS - 2))
    noise = "'" + "Q(" * 600 + "(" * 40 + "|&" * 600 + "'"
    source = f'({calls} | Q(a={noise}) |  # {"Q(" * 600}(((((((((((((((((((((((((((((((((((\n  Q(b="Q(Q(Q("))'
    assert repr(parse_filter(source)).count("Q(a=") == MAX_Q_CALLS - 1
    with pytest.raises(FilterError, match="it has 501 Q"):
        parse_filter(source.replace("Q(b=", "Q(c=1) | Q(b="))


def test_positions_are_exact_in_multi_line_non_ascii_filters() -> None:
    # ast columns are UTF-8 byte offsets; the quoted text must still be the right characters.
    with pytest.raises(FilterError, match=r"unknown lookup 'foo'.* — at `Q\(nick='李四', age__foo=1\)`$"):
        parse_filter("(Q(name='张三') |\r\n  Q(nick='李四', age__foo=1))")
    with pytest.raises(FilterError, match=r"the name 'x' is not a value.* — at `x`$"):
        parse_filter("Q(name='张三',\n  nick='李四') & Q(nick='😀', age=x)")
    with pytest.raises(FilterError, match=r"the string contains a NUL character.* — at `'\\x00'`$"):
        parse_filter("(Q(name='张三') |\r\n  Q(nick='李四', age='\\x00'))")
    q = parse_filter("(Q(name='张三') &\r  Q(nick='😀'))")
    assert repr(q) == "Q(name='张三') & Q(nick='😀')"


def test_python_q_forms() -> None:
    q1, q2 = Q(userId="u1"), ~Q(status__in=["offline"])
    assert Q(q1, Q.AND, q2) == q1 & q2
    assert Q(q1, Q.OR, q2) == q1 | q2
    assert Q("age", ">", 18) == Q(age__gt=18)
    assert (Q() | Q(a=1)) == Q()  # Q() matches everything, so anything OR-ed with it does too
    assert Q(at__gt=datetime(2024, 1, 1, tzinfo=timezone.utc)).node is not None
    assert Q(Q("status", "=", "active")) == Q(status="active")  # JitAi wraps a single condition
    assert Q(Q()) == Q()
    assert Q("remark", "isnull", 1) == Q(remark__isnull=True)


def test_repr_round_trips_through_the_parser() -> None:
    q = (Q(a=1) | Q(b__in=["x", "y"])) & ~Q("c", "<=", 2.5)
    assert repr(q) == "(Q(a=1) | Q(b__in=['x', 'y'])) & ~Q('c', '<=', 2.5)"
    assert parse_filter(repr(q)) == q


def test_python_q_rejects_bad_shapes() -> None:
    with pytest.raises(FilterError, match="'in' needs a list of values"):
        Q(age__in=3)
    with pytest.raises(FilterError, match="unknown operator '=>'"):
        Q("age", "=>", 3)
    with pytest.raises(FilterError, match=r"Q\.AND or Q\.OR"):
        Q(Q(a=1), "XOR", Q(b=2))
    with pytest.raises(FilterError, match="got 2 positional arguments"):
        Q("age", ">")
    with pytest.raises(FilterError, match="or one Q to wrap; got 1 positional"):
        Q("age")
    with pytest.raises(FilterError, match="object is not a filter value"):
        Q(age=object())


def test_python_and_or_keywords_on_q_objects_fail_loudly() -> None:
    with pytest.raises(FilterError, match="not with and / or / not"):
        Q(a=1) and Q(b=2)


REJECTED = [
    # (filter, fragments the message must contain)
    ("Q(name='x') or 1=1", ["is not a valid filter expression", "the keywords and / or / not are not allowed"]),
    ("Q(name='x') or Q(name='y')", ["the keyword 'or' is not allowed", "at `Q(name='x') or Q(name='y')`"]),
    ("Q(name='x') and Q(age=1)", ["the keyword 'and' is not allowed"]),
    ("not Q(name='x')", ["the keyword 'not' is not allowed; negate with ~Q(...)"]),
    ("__import__('os')", ["calling '__import__' is not allowed", "at `__import__('os')`"]),
    ("__import__('os').system('id')", ["only calls to Q(...) are allowed", "at `__import__('os').system('id')`"]),
    ("Q(**{'a': 1})", ["**kwargs are not allowed", "at `**{'a': 1}`"]),
    ("Q(*['a', '=', 1])", ["*args are not allowed", "at `*['a', '=', 1]`"]),
    ("Q(name=open('x'))", ["calling 'open' is not allowed; values must be literals", "at `open('x')`"]),
    ("Q(name='x').__class__", ["attribute access is not allowed", "at `Q(name='x').__class__`"]),
    ("Q.__init__", ["attribute access is not allowed"]),
    ("Q(name=Q.__class__)", ["attribute access is not allowed", "at `Q.__class__`"]),
    ("Q(name=x)", ["the name 'x' is not a value"]),
    ("Q(name=lambda: 1)", ["lambdas are not allowed", "at `lambda: 1`"]),
    ("(lambda: Q())()", ["only calls to Q(...) are allowed"]),
    ("Q(name=[c for c in 'ab'])", ["comprehensions are not allowed"]),
    ("Q(name=(c for c in 'ab'))", ["comprehensions are not allowed"]),
    ("Q(age=1) & (1 == 1)", ["comparisons are only allowed inside Q(...)", "at `1 == 1`"]),
    ("Q(age=1) == Q(age=2)", ["comparisons are only allowed inside Q(...)"]),
    ("Q(age=1) + Q(age=2)", ["arithmetic is not allowed"]),
    ("Q(age=2**64)", ["arithmetic is not allowed", "at `2**64`"]),
    ("Q(name='a' * 3)", ["arithmetic is not allowed"]),
    ("Q(name=f'{1}')", ["f-strings are not allowed"]),
    ("Q(name={'a': 1})", ["dicts are not allowed"]),
    ("Q(name={1, 2})", ["sets are not allowed"]),
    ("Q(name='x')[0]", ["subscripts are not allowed"]),
    ("Q(a=1) if True else Q(b=2)", ["conditional expressions are not allowed"]),
    ("Q(name=b'x')", ["bytes literals are not allowed"]),
    ("Q(age=1j)", ["complex literals are not allowed"]),
    ("Q(age=...)", ["ellipsis literals are not allowed"]),
    ("Q(age=1e999)", ["the number is not finite"]),
    ("Q(age=9223372036854775808)", ["the integer does not fit in 64 bits", "at `9223372036854775808`"]),
    ("Q(age=-9223372036854775809)", ["the integer does not fit in 64 bits"]),
    ("Q(age__in=[[1, 2]])", ["lists inside lists are not allowed", "at `[1, 2]`"]),
    ("Q(name__foo='x')", ["unknown lookup 'foo'", "at `Q(name__foo='x')`"]),
    ("Q(name__startwith='x')", ["unknown lookup 'startwith'", "did you mean 'startswith'"]),
    ("Q('age', '=>', 1)", ["unknown operator '=>'", "at `Q('age', '=>', 1)`"]),
    ("Q('age', '>')", ["three arguments ('field', 'op', value)"]),
    ("Q(1, '=', 2)", ["the field name must be a string"]),
    ("Q('age', '>', 1, 2)", ["three arguments"]),
    ("Q('age', '>', age=1)", ["not both"]),
    ("Q(Q(a=1), Q.XOR, Q(b=2))", ["only Q.AND and Q.OR may join", "at `Q.XOR`"]),
    ("Q(Q(a=1), Q.AND, 'x')", ["a bare value is not a filter"]),
    ("Q(age__isnull='yes')", ["'isnull' needs True or False"]),
    ("Q(age__isnull=2)", ["'isnull' needs True or False (or 1 or 0)"]),
    ("Q(name__likeany='x')", ["'likeany' needs a list of strings"]),
    ("Q(name__nlikeany=['x', 1])", ["'nlikeany' needs a list of strings"]),
    ("Q(name__nlike=None)", ["'nlike' needs a string"]),
    ("Q(at__year='2023')", ["'year' needs an integer from 1 to 9999"]),
    ("Q('at', 'month', 13)", ["'month' needs an integer from 1 to 12"]),
    ("Q(at__day=True)", ["'day' needs an integer from 1 to 31"]),
    ("Q('age', 'week', 40)", ["unknown operator 'week'"]),
    ("Q('age')", ["a bare value is not a filter"]),
    ("Q(1)", ["a bare value is not a filter"]),
    ("Q(age__in=1)", ["'in' needs a list of values"]),
    ("Q(age__range=[1])", ["'range' needs a list of two values"]),
    ("Q(age__range=[1, None])", ["'range' needs a list of two values"]),
    ("Q(name__like=1)", ["'like' needs a string"]),
    ("Q(age__gt=None)", ["'gt' cannot compare with None"]),
    ("Q(na__me='x')", ["unknown lookup 'me'"]),
    ("~Q()", ["~Q() would match no row"]),
    ("'x'", ["a bare value is not a filter"]),
    ("x := Q()", ["is not a valid filter expression"]),
    ("Q(name='x'); import os", ["is not a valid filter expression"]),
    ("Q(name='x')\nQ(name='y')", ["is not a valid filter expression"]),
    ("Q(name='x', 'y')", ["is not a valid filter expression"]),
    ("Q(name='\x00')", ["null bytes"]),
    ("Q(name='" + "a" * 10_001 + "')", ["the string has 10001 characters; the limit is 10000"]),
    ("Q(age__in=[" + ",".join(["1"] * 10_001) + "])", ["the list has 10001 items; the limit is 10000"]),
    ("~" * 40 + "Q(age=1)", ["nests deeper than 32 levels"]),
    ("(" * 40 + "Q(age=1)" + ")" * 40, ["nests deeper than 32 levels"]),
    ("~" * 100_001, ["is 100001 characters long; the limit is 32000", "split the query"]),
    ("Q(a=1)" + " " * MAX_SOURCE_CHARS, ["the limit is 32000"]),
    ("Q(a=1) & " * 20_000 + "Q(a=1)", ["the limit is 32000"]),
    ("Q(a=1) | " * 500 + "Q(a=1)", ["it has 501 Q(...) calls; the limit is 500", "field__in=[...]"]),
    ("1 | " * 600 + "1", ["it joins 601 terms with & and |; the limit is 500"]),
    ("Q(" + ", ".join(f"a{i}=1" for i in range(501)) + ")", ["more than 500 terms (field comparisons)"]),
    (
        " & ".join("Q(a__in=[" + ",".join(["1"] * 5_001) + "])" for _ in range(2)),
        ["it compares more than 10000 values; the limit is 10000"],
    ),
    ("Q(name='a\\x00b')", ["the string contains a NUL character", "at `'a\\x00b'`"]),
    ("Q(name__in=['ok', 'a\\ud800'])", ["the string contains a lone surrogate (U+D800)", "at `'a\\ud800'`"]),
    ("Q(name='\ud800')", ["it contains a lone surrogate (U+D800) at column 9"]),
    ("Q(a=1) &\n  Q(name='\x00')", ["it contains a NUL character at line 2, column 11", "null bytes"]),
    ("Q(a=[" + "(" * 40 + "))", ["nests deeper than 32 levels (at column 36)"]),
]


@pytest.mark.parametrize(("source", "fragments"), REJECTED, ids=[f"{s[:40]!r}" for s, _ in REJECTED])
def test_rejected_filters_say_what_is_wrong(source: str, fragments: list[str]) -> None:
    with pytest.raises(FilterError) as caught:
        parse_filter(source)
    message = str(caught.value)
    assert message.startswith("invalid filter:")
    for fragment in fragments:
        assert fragment in message, message


def test_deep_ast_nesting_without_brackets_is_rejected() -> None:
    # Negations nest without brackets; each ~ is a level.
    with pytest.raises(FilterError, match="nests deeper than 32 levels"):
        parse_filter("~" * 33 + "Q(a=1)")
    assert parse_filter("~" * 30 + "Q(a=1)").node is not None


def test_the_parser_never_evaluates_anything(monkeypatch: pytest.MonkeyPatch) -> None:
    import builtins

    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("the filter parser must not evaluate code")

    monkeypatch.setattr(builtins, "eval", forbidden)
    monkeypatch.setattr(builtins, "exec", forbidden)
    assert parse_filter("Q(a=1) | ~Q('b', 'in', [1, 2])") == Q(a=1) | ~Q(b__in=[1, 2])


def test_non_string_filters_are_rejected() -> None:
    with pytest.raises(FilterError, match="expected a string, got int"):
        parse_filter(3)  # type: ignore[arg-type]


def _filled(prefix: str, unit: str, suffix: str = "") -> str:
    """Return prefix + unit repeated + suffix, as long as the length bound allows."""
    return prefix + unit * ((MAX_SOURCE_CHARS - len(prefix) - len(suffix)) // len(unit)) + suffix


# The costliest filters for each part of the parser: Python's own parser (dense lists, chained
# comparisons, nested calls), the walk (hundreds of calls, thousands of values) and the error paths.
WORST_CASES = {
    "int list": _filled("Q(a__in=[", "1,", "])"),
    "string list": _filled("Q(a__in=[", "'x',", "])"),
    "non-ASCII list": _filled("Q(a__in=[", "'张',", "])"),
    "multi-line list": _filled("Q(a__in=[", "-1,\n", "])"),
    "chained comparison": _filled("Q(a=1", "<1", ")"),
    "nested calls": _filled("Q", "()"),
    "subscripts": _filled("Q", "[1]"),
    "long chain of Q calls": _filled("", "Q(a=1)|", "Q()"),
    "2000-term chain": " | ".join(f"Q(a={i})" for i in range(2000)),
    "keyword arguments": _filled("Q(", "a=1,", "b=1)"),
    "most calls with lists": " & ".join(["Q(a__in=[" + ",".join(["1"] * 20) + "])"] * (MAX_Q_CALLS - 1)),
    "unterminated triple quotes": _filled("Q(a=", "'''\\''' ", "\\"),
}


@pytest.mark.parametrize("source", list(WORST_CASES.values()), ids=list(WORST_CASES))
def test_the_worst_filters_parse_or_fail_quickly(source: str) -> None:
    # Parsing is linear and bounded: the worst case takes tens of milliseconds (the budget is
    # 100 ms); the assertion leaves room for a slow, busy machine.
    started = time.process_time()
    with contextlib.suppress(FilterError):
        parse_filter(source)
    elapsed = time.process_time() - started
    print(f"parse of {len(source)} characters: {elapsed * 1000:.1f} ms CPU")
    assert elapsed < 1.0


def test_python_q_objects_share_the_term_and_nesting_bounds() -> None:
    many = Q(a=0)
    for i in range(1, MAX_TERMS):
        many = many | Q(a=i)
    with pytest.raises(FilterError, match=r"it has 501 terms .*; the limit is 500"):
        _ = many | Q(a=MAX_TERMS)
    with pytest.raises(FilterError, match=r"Q\(\) has 501 keyword arguments; the limit is 500"):
        Q(**{f"a{i}": i for i in range(MAX_TERMS + 1)})
    deep = Q(a=1)
    for _ in range(MAX_DEPTH):
        deep = ~deep
    with pytest.raises(FilterError, match="nests deeper than 32 levels"):
        _ = ~deep
    alternating = Q(a=1)
    with pytest.raises(FilterError, match="nests deeper than 32 levels"):
        for i in range(MAX_DEPTH + 1):
            alternating = (alternating | Q(b=i)) if i % 2 else (alternating & Q(b=i))


@pytest.mark.parametrize(
    ("build", "fragment"),
    [
        (lambda: Q(name="a\x00b"), "the value 'a\\x00b' contains a NUL character"),
        (lambda: Q(name__in=["ok", "a\x00"]), "the value 'a\\x00' contains a NUL character"),
        (lambda: Q(name__like="%\ud800%"), "the value '%\\ud800%' contains a lone surrogate (U+D800)"),
        (lambda: Q("name", "=", "\udfff"), "contains a lone surrogate (U+DFFF)"),
        (lambda: Q(**{"na\x00me": 1}), "the field name 'na\\x00me' contains a NUL character"),
        (lambda: Q("na\ud800me", "=", 1), "the field name 'na\\ud800me' contains a lone surrogate"),
        (lambda: Q(**{"name__\x00": 1}), "the field name 'name__\\x00' contains a NUL character"),
        (lambda: Q("name", "\x00", 1), "unknown operator '\\x00'"),
    ],
)
def test_nul_and_lone_surrogates_are_refused_with_printable_messages(build: Any, fragment: str) -> None:
    with pytest.raises(FilterError) as caught:
        build()
    message = str(caught.value)
    assert fragment in message, message
    # The message itself can be logged anywhere: no raw NUL, control character or surrogate.
    assert message.isprintable() and message.encode("utf-8")
