"""Q filters: built in Python or parsed from filter strings, compiled to bound SQL expressions.

A filter string is parsed with ``ast`` and walked node by node; only ``Q(...)`` calls with literal
arguments combined with ``&``, ``|`` and ``~`` get through. Nothing is evaluated and no SQL text is
built from the filter: it becomes SQLAlchemy expressions whose values travel as bound parameters.

Filter strings usually come from outside (an HTTP caller), so every part of one is bounded before
it costs anything: its length, its bracket nesting, its number of ``Q(...)`` calls, field
comparisons ("terms") and values. Parsing is linear in the length of the string; the longest
filter allowed parses in a few tens of milliseconds. Q objects built in Python share the term and
nesting bounds, which keep every filter within what SQLite and PostgreSQL can evaluate.
"""

from __future__ import annotations

import ast
import dataclasses
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from itertools import accumulate
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

from .errors import FilterError, did_you_mean
from .fields import ALL_LOOKUPS, INT64_MAX, INT64_MIN, Field

__all__ = ["Q", "compile_filter", "parse_filter", "to_q"]

# Python's parser spends up to about a microsecond per character on dense input, so the length
# bound is what caps the cost of parsing a hostile filter; the other bounds cap the walk after it
# and keep the SQL within what the databases evaluate (SQLite stops at an expression depth of 1000).
MAX_SOURCE_CHARS = 32_000
MAX_STRING_CHARS = 10_000
MAX_LIST_ITEMS = 10_000
MAX_VALUES = 10_000
MAX_Q_CALLS = 500
MAX_TERMS = 500
MAX_DEPTH = 32

# How much of a filter an error message quotes.
_SHOWN_CHARS = 200

# The operators of the positional form Q('field', 'op', value), mapped to lookups.
OPERATORS: dict[str, str] = {
    "=": "eq",
    "==": "eq",
    "!=": "ne",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    # JitAi also spells the comparisons as words: Q('age', 'gt', 18).
    "eq": "eq",
    "ne": "ne",
    "gt": "gt",
    "gte": "gte",
    "lt": "lt",
    "lte": "lte",
    "in": "in",
    "nin": "nin",
    "like": "like",
    "nlike": "nlike",
    "likeany": "likeany",
    "nlikeany": "nlikeany",
    "startswith": "startswith",
    "endswith": "endswith",
    "isnull": "isnull",
    "range": "range",
    "year": "year",
    "month": "month",
    "day": "day",
}
# The integers a date part may be compared with.
_DATE_PART_RANGES = {"year": (1, 9999), "month": (1, 12), "day": (1, 31)}
_SCALARS = (str, int, float, bool, type(None), Decimal, datetime)


# --- the filter tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One comparison: ``field`` ``lookup`` ``value``; ``source`` is what error messages quote."""

    field: str
    lookup: str
    value: Any
    source: str = dataclasses.field(compare=False)

    terms: ClassVar[int] = 1
    depth: ClassVar[int] = 0


@dataclass(frozen=True)
class _Junction:
    """Children joined by one boolean operator; their terms and nesting are counted once, here."""

    children: tuple[Node, ...]
    terms: int = dataclasses.field(init=False, repr=False, compare=False)
    depth: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", sum(child.terms for child in self.children))
        object.__setattr__(self, "depth", 1 + max((child.depth for child in self.children), default=0))


class _And(_Junction):
    """Children that must all match."""


class _Or(_Junction):
    """Children of which one must match."""


@dataclass(frozen=True)
class _Not:
    child: Node
    terms: int = dataclasses.field(init=False, repr=False, compare=False)
    depth: int = dataclasses.field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "terms", self.child.terms)
        object.__setattr__(self, "depth", self.child.depth + 1)


Node = Condition | _And | _Or | _Not


def _bounded(node: Node) -> Node:
    """Return ``node`` if it stays within the term and nesting bounds; raise FilterError if not."""
    if node.terms > MAX_TERMS:
        raise FilterError(
            f"invalid filter: it has {node.terms} terms (field comparisons); the limit is {MAX_TERMS}. "
            "Compare one field with many values through field__in=[...]"
        )
    if node.depth > MAX_DEPTH:
        raise FilterError(f"invalid filter: it nests deeper than {MAX_DEPTH} levels")
    return node


class Q:
    """A filter: ``Q(userId='u1')``, ``Q('age', '>', 18)``, ``Q(q1, Q.OR, q2)``, combined with & | ~.

    ``Q()`` matches every row, and ``Q(q)`` is ``q`` itself (JitAi wraps a single condition so:
    ``Q(Q('status', '=', 'active'))``). Keyword arguments are ``field__lookup=value`` and are AND-ed;
    the lookups are eq (none), ne, gt, gte, lt, lte, in, nin, isnull, range; on text like, nlike
    (a LIKE pattern, or "contains" when it has no %), likeany and nlikeany (a list of such), startswith,
    endswith; on dates and date-times year, month and day (of the date in UTC). A filter has at most
    ``MAX_TERMS`` (500) field comparisons and nests at most ``MAX_DEPTH`` (32) levels of & | ~;
    going past either raises FilterError at once.
    """

    AND: ClassVar[str] = "AND"
    OR: ClassVar[str] = "OR"
    __slots__ = ("node",)

    node: Node | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise FilterError("invalid filter: Q() takes keyword arguments or three positional ones, not both")
        if kwargs:
            if len(kwargs) > MAX_TERMS:
                raise FilterError(f"invalid filter: Q() has {len(kwargs)} keyword arguments; the limit is {MAX_TERMS}")
            conditions = [_keyword_condition(name, value, _kwarg_source(name, value)) for name, value in kwargs.items()]
            self.node = conditions[0] if len(conditions) == 1 else _And(tuple(conditions))
        elif not args:
            self.node = None
        elif len(args) == 1 and isinstance(args[0], Q):
            self.node = args[0].node
        elif len(args) == 3 and isinstance(args[0], Q):
            left, joiner, right = args
            if joiner not in (Q.AND, Q.OR) or not isinstance(right, Q):
                raise FilterError(
                    "invalid filter: Q(q1, joiner, q2) needs Q.AND or Q.OR between two Q objects, got "
                    f"{_shown(repr(args))}"
                )
            combined = left & right if joiner == Q.AND else left | right
            self.node = combined.node
        elif len(args) == 3:
            field, op, value = args
            self.node = _positional_condition(field, op, value, _args_source(args))
        else:
            raise FilterError(
                "invalid filter: Q() takes keyword arguments field__lookup=value, or three arguments "
                f"('field', 'op', value) or (q1, Q.AND|Q.OR, q2), or one Q to wrap; got {len(args)} positional "
                "arguments"
            )

    @classmethod
    def _of(cls, node: Node | None) -> Q:
        q = cls.__new__(cls)
        q.node = node
        return q

    def __and__(self, other: object) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        return Q._of(_join(_And, self.node, other.node))

    def __or__(self, other: object) -> Q:
        if not isinstance(other, Q):
            return NotImplemented
        if self.node is None or other.node is None:
            return Q()  # Q() matches everything, and so does anything OR-ed with it
        return Q._of(_join(_Or, self.node, other.node))

    def __invert__(self) -> Q:
        if self.node is None:
            raise FilterError("invalid filter: ~Q() would match no row; remove the negation")
        return Q._of(_bounded(_Not(self.node)))

    def __bool__(self) -> bool:
        # `Q(a=1) and Q(b=2)` would silently drop a filter; make the mistake loud instead.
        raise FilterError("invalid filter: combine Q objects with & | ~, not with and / or / not")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Q) and self.node == other.node

    def __hash__(self) -> int:
        return hash(self.node)

    def __repr__(self) -> str:
        return "Q()" if self.node is None else _render(self.node)


def _join(kind: type[_And] | type[_Or], left: Node | None, right: Node | None) -> Node | None:
    """Return ``left kind right``, flattening nested joins of the same kind."""
    if left is None:
        return right
    if right is None:
        return left
    return _combine(kind, (left, right))


def _combine(kind: type[_And] | type[_Or], nodes: Iterable[Node]) -> Node:
    """Join one or more nodes with one operator, flattening children already joined by it."""
    parts: list[Node] = []
    for node in nodes:
        if isinstance(node, kind):
            parts.extend(node.children)
        else:
            parts.append(node)
    return parts[0] if len(parts) == 1 else _bounded(kind(tuple(parts)))


def _combine_qs(kind: type[_And] | type[_Or], qs: list[Q]) -> Q:
    """Join Q objects as a chain of & or | does, in one step rather than one copy per operand."""
    nodes = [q.node for q in qs if q.node is not None]
    if kind is _Or and len(nodes) < len(qs):
        return Q()  # Q() matches everything, and so does anything OR-ed with it
    return Q._of(_combine(kind, nodes) if nodes else None)


def _render(node: Node) -> str:
    if isinstance(node, Condition):
        return node.source
    if isinstance(node, _Not):
        return f"~{_render_operand(node.child)}"
    joiner = " & " if isinstance(node, _And) else " | "
    return joiner.join(_render_operand(child) for child in node.children)


def _render_operand(node: Node) -> str:
    text = _render(node)
    return f"({text})" if isinstance(node, _Junction) else text


def _kwarg_source(name: str, value: Any) -> str:
    return f"Q({name}={value!r})"


def _args_source(args: tuple[Any, ...]) -> str:
    return "Q(" + ", ".join(repr(a) for a in args) + ")"


def _shown(text: str) -> str:
    """Return ``text`` as an error message quotes it: shortened, with control characters escaped."""
    if len(text) > _SHOWN_CHARS:
        text = text[: _SHOWN_CHARS - 3] + "..."
    if text.isprintable():
        return text
    # No raw NUL, escape sequence or lone surrogate may reach a log line or a terminal.
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _at(source: str) -> str:
    return f" — at `{_shown(source)}`"


def _text_problem(text: str) -> str:
    """Return why a database cannot take ``text`` (a NUL or a lone surrogate), or ""."""
    if "\x00" in text:
        return "contains a NUL character, which databases cannot compare (PostgreSQL refuses it)"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            return f"contains a lone surrogate (U+{ord(text[exc.start]):04X}), which is not valid Unicode text"
    return ""


def _check_text(text: str, what: str, source: str) -> None:
    problem = _text_problem(text)
    if problem:
        raise FilterError(f"invalid filter: the {what} {_shown(repr(text))} {problem}{_at(source)}")


def _keyword_condition(name: str, value: Any, source: str) -> Condition:
    _check_text(name, "field name", source)
    field, sep, lookup = name.rpartition("__")
    if not sep:
        field, lookup = name, "eq"
    elif lookup not in ALL_LOOKUPS:
        raise FilterError(
            f"invalid filter: unknown lookup {_shown(repr(lookup))}{did_you_mean(lookup, sorted(ALL_LOOKUPS))}"
            f"{_at(source)}"
        )
    return _condition(field, lookup, value, source)


def _positional_condition(field: Any, op: Any, value: Any, source: str) -> Condition:
    if not isinstance(field, str):
        raise FilterError(f"invalid filter: the field name must be a string{_at(source)}")
    _check_text(field, "field name", source)
    if not isinstance(op, str) or op not in OPERATORS:
        hint = (did_you_mean(op, OPERATORS) if isinstance(op, str) else "") or "."
        raise FilterError(
            f"invalid filter: unknown operator {_shown(repr(op))}{hint} The operators are {' '.join(OPERATORS)}"
            f"{_at(source)}"
        )
    return _condition(field, OPERATORS[op], value, source)


def _condition(field: str, lookup: str, value: Any, source: str) -> Condition:
    """Return a condition after checking that the value has the shape its lookup needs."""
    if not field.isidentifier() or "__" in field:
        raise FilterError(f"invalid filter: {_shown(repr(field))} is not a field name{_at(source)}")
    if lookup in ("in", "nin"):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise FilterError(f"invalid filter: {lookup!r} needs a list of values{_at(source)}")
        value = tuple(value)
        _check_scalars(value, source)
    elif lookup == "range":
        if not isinstance(value, (list, tuple)) or len(value) != 2 or None in value:
            raise FilterError(f"invalid filter: 'range' needs a list of two values [low, high]{_at(source)}")
        value = tuple(value)
        _check_scalars(value, source)
    elif lookup == "isnull":
        if type(value) is int and value in (0, 1):  # JitAi writes 1 (null) and 0 (not null)
            value = bool(value)
        if not isinstance(value, bool):
            raise FilterError(f"invalid filter: 'isnull' needs True or False (or 1 or 0){_at(source)}")
    elif lookup in ("like", "nlike", "startswith", "endswith"):
        if not isinstance(value, str):
            raise FilterError(f"invalid filter: {lookup!r} needs a string{_at(source)}")
        _check_text(value, "value", source)
    elif lookup in ("likeany", "nlikeany"):
        if not isinstance(value, (list, tuple)) or not all(isinstance(v, str) for v in value):
            raise FilterError(f"invalid filter: {lookup!r} needs a list of strings{_at(source)}")
        value = tuple(value)
        for text in value:
            _check_text(text, "value", source)
    elif lookup in _DATE_PART_RANGES:
        low, high = _DATE_PART_RANGES[lookup]
        if type(value) is not int or not low <= value <= high:
            raise FilterError(f"invalid filter: {lookup!r} needs an integer from {low} to {high}{_at(source)}")
    else:
        _check_scalars((value,), source)
        if value is None and lookup not in ("eq", "ne"):
            raise FilterError(f"invalid filter: {lookup!r} cannot compare with None{_at(source)}")
    return Condition(field, lookup, value, source)


def _check_scalars(values: Iterable[Any], source: str) -> None:
    for value in values:
        if isinstance(value, str):
            _check_text(value, "value", source)
        elif not isinstance(value, _SCALARS):
            raise FilterError(
                f"invalid filter: {type(value).__name__} is not a filter value (use str, int, float, "
                f"bool, None, Decimal or datetime){_at(source)}"
            )


def to_q(filter: str | Q | Mapping[str, Any] | None) -> Q:
    """Return a Q for a filter string, a Q, a mapping of field → value (equality), or None (all rows)."""
    if filter is None:
        return Q()
    if isinstance(filter, Q):
        return filter
    if isinstance(filter, str):
        return parse_filter(filter)
    if isinstance(filter, Mapping):
        if not all(isinstance(key, str) for key in filter):
            raise FilterError("invalid filter: mapping filters need field names as keys")
        return Q(**filter)
    raise FilterError(f"invalid filter: expected a filter string, a Q or a dict, got {type(filter).__name__}")


# --- parsing filter strings -----------------------------------------------------------------------

# A string literal or a comment, read from its first character the way Python's tokenizer reads it.
# An unterminated one runs to the end of its line (or of the text, when triple-quoted) rather than
# failing, so no start position is ever rescanned and stripping stays linear whatever the input.
_STRING_OR_COMMENT = re.compile(
    r"""
      '''    (?:\\.?|[^\\])*?        (?:'''|\Z)
    | \"\"\" (?:\\.?|[^\\])*?        (?:\"\"\"|\Z)
    | '      (?:\\.?|[^\\'\r\n])*    '?
    | "      (?:\\.?|[^\\"\r\n])*    "?
    | \#     [^\r\n]*
    """,
    re.VERBOSE | re.DOTALL,
)
_NOT_A_BRACKET = re.compile(r"[^()\[\]{}]+")
_BRACKET_STEP = {"(": 1, "[": 1, "{": 1, ")": -1, "]": -1, "}": -1}
_Q_CALL = re.compile(r"(?<![\w.])Q\s*\(")
_LINE_BREAK = re.compile(r"\r\n|\r|\n")
_LINE_BREAK_BYTES = re.compile(rb"\r\n|\r|\n")


def parse_filter(source: str) -> Q:
    """Parse a filter string such as ``"Q(userId='u1') & ~Q(status__in=['offline'])"`` into a Q."""
    if not isinstance(source, str):
        raise FilterError(f"invalid filter: expected a string, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise FilterError(
            f"invalid filter: it is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}. "
            "Compare many values through field__in=[...] in fewer characters, or split the query"
        )
    text = source.strip()
    if not text:
        return Q()
    _check_characters(text)
    _check_structure(text)
    try:
        tree = ast.parse(text, mode="eval")
    except SyntaxError as exc:
        raise FilterError(_syntax_message(text, exc)) from None
    except ValueError as exc:
        raise FilterError(f"invalid filter: {_shown(str(exc))}") from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on very deep nesting before our own depth check can run.
        raise FilterError(f"invalid filter: it nests deeper than {MAX_DEPTH} levels") from None
    return _Parser(text).expression(tree.body, 1)


def _place(text: str, offset: int) -> str:
    """Return where ``offset`` is in ``text`` as "column C", or "line L, column C" past line 1."""
    line_start = max(text.rfind("\n", 0, offset), text.rfind("\r", 0, offset)) + 1
    line = text.count("\n", 0, offset) + 1 if "\n" in text else text.count("\r", 0, offset) + 1
    column = offset - line_start + 1
    return f"column {column}" if line == 1 else f"line {line}, column {column}"


def _check_characters(text: str) -> None:
    """Refuse NUL characters and lone surrogates, which no parser or database takes."""
    position = text.find("\x00")
    if position >= 0:
        raise FilterError(
            f"invalid filter: it contains a NUL character at {_place(text, position)} (null bytes are not allowed)"
        )
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise FilterError(
                f"invalid filter: it contains a lone surrogate (U+{ord(text[exc.start]):04X}) at "
                f"{_place(text, exc.start)}; a filter must be valid Unicode text"
            ) from None


def _check_structure(text: str) -> None:
    """Bound bracket nesting, ``Q(...)`` calls and & | joins before ``ast.parse`` spends time on them.

    Brackets add no node to the tree, so only counting them catches ``((((…))))``; and a long
    chain of & or | makes a tree as deep as it is long, which the parser would refuse with a
    misleading message. Strings and comments are blanked first: what they hold does not count.
    """
    code = _STRING_OR_COMMENT.sub(" ", text)
    brackets = _NOT_A_BRACKET.sub("", code)
    if brackets and max(accumulate(map(_BRACKET_STEP.__getitem__, brackets))) > MAX_DEPTH:
        raise FilterError(
            f"invalid filter: it nests deeper than {MAX_DEPTH} levels (at {_place(text, _too_deep_at(text))})"
        )
    calls = len(_Q_CALL.findall(code))
    if calls > MAX_Q_CALLS:
        raise FilterError(
            f"invalid filter: it has {calls} Q(...) calls; the limit is {MAX_Q_CALLS}. "
            "Compare one field with many values through field__in=[...]"
        )
    joins = code.count("&") + code.count("|")
    if joins >= MAX_Q_CALLS:
        raise FilterError(
            f"invalid filter: it joins {joins + 1} terms with & and |; the limit is {MAX_Q_CALLS}. "
            "Compare one field with many values through field__in=[...]"
        )


def _too_deep_at(text: str) -> int:
    """Return the offset of the first bracket nested deeper than MAX_DEPTH (an error path only)."""
    # Blank strings and comments character for character, so offsets still match the text.
    code = _STRING_OR_COMMENT.sub(lambda match: " " * len(match.group()), text)
    depth = 0
    for offset, char in enumerate(code):
        depth += _BRACKET_STEP.get(char, 0)
        if depth > MAX_DEPTH:
            return offset
    return 0


def _syntax_message(source: str, exc: SyntaxError) -> str:
    message = f"invalid filter: `{_shown(source)}` is not a valid filter expression ({exc.msg}"
    if exc.offset and exc.lineno in (None, 1) and source.isprintable():
        message += f", at column {exc.offset}: `{source[exc.offset - 1 : exc.offset + 39]}`"
    message += ")"
    words = {word.strip("()") for word in source.split()}
    if words & {"and", "or", "not"}:
        message += "; combine Q(...) terms with &, | and ~ — the keywords and / or / not are not allowed"
    elif "'=='" in exc.msg or "assign" in exc.msg:
        message += "; comparisons go inside Q(...): Q(field=value) or Q('field', '>', value)"
    return message


class _Parser:
    """Turn an ``ast`` expression into a Q, allowing only the filter grammar.

    Each node is visited once. The text of a node (kept as a condition's source, quoted by error
    messages) is cut from the filter by its position, through a table of line starts built once:
    no per-node rescan of the filter.
    """

    def __init__(self, text: str) -> None:
        self.text = text
        encoded = text.encode("utf-8")
        # ast gives columns as UTF-8 byte offsets; for ASCII text they are character offsets too.
        self.encoded: bytes | None = None if len(encoded) == len(text) else encoded
        breaks = _LINE_BREAK.finditer(text) if self.encoded is None else _LINE_BREAK_BYTES.finditer(encoded)
        self.line_starts = [0, *(found.end() for found in breaks)]
        self.calls = 0
        self.terms = 0
        self.values = 0

    def segment(self, node: ast.expr | ast.keyword) -> str:
        """Return the filter text that ``node`` was parsed from."""
        end_line = node.end_lineno if node.end_lineno is not None else node.lineno
        end_column = node.end_col_offset if node.end_col_offset is not None else node.col_offset
        start = self.line_starts[node.lineno - 1] + node.col_offset
        end = self.line_starts[end_line - 1] + end_column
        if self.encoded is None:
            return self.text[start:end]
        return self.encoded[start:end].decode("utf-8", "replace")

    def fail(self, problem: str, node: ast.expr | ast.keyword) -> FilterError:
        return FilterError(f"invalid filter: {problem}{_at(self.segment(node))}")

    def check_depth(self, depth: int, node: ast.expr) -> None:
        if depth > MAX_DEPTH:
            raise self.fail(f"it nests deeper than {MAX_DEPTH} levels", node)

    def expression(self, node: ast.expr, depth: int) -> Q:
        """Return the Q that a filter expression denotes."""
        self.check_depth(depth, node)
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            # A chain a & b & c is one level, however long: walk it without recursing.
            op_type = type(node.op)
            operands: list[ast.expr] = []
            current: ast.expr = node
            while isinstance(current, ast.BinOp) and isinstance(current.op, op_type):
                operands.append(current.right)
                current = current.left
            operands.append(current)
            terms = [self.expression(operand, depth + 1) for operand in reversed(operands)]
            return _combine_qs(_And if op_type is ast.BitAnd else _Or, terms)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Invert):
            inner = self.expression(node.operand, depth + 1)
            if inner.node is None:
                raise self.fail("~Q() would match no row", node)
            return ~inner
        if isinstance(node, ast.Call):
            return self.call(node, depth)
        raise self.fail(self.describe(node), node)

    def describe(self, node: ast.AST) -> str:
        """Say why a node that is not a Q expression is rejected."""
        if isinstance(node, ast.BoolOp):
            word = "and" if isinstance(node.op, ast.And) else "or"
            return f"the keyword {word!r} is not allowed; combine Q(...) terms with & and |"
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return "the keyword 'not' is not allowed; negate with ~Q(...)"
        if isinstance(node, ast.Compare):
            return "comparisons are only allowed inside Q(...): Q(age__gt=18) or Q('age', '>', 18)"
        if isinstance(node, ast.Attribute):
            return "attribute access is not allowed"
        if isinstance(node, ast.Subscript):
            return "subscripts are not allowed"
        if isinstance(node, ast.Lambda):
            return "lambdas are not allowed"
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return "comprehensions are not allowed"
        if isinstance(node, ast.JoinedStr):
            return "f-strings are not allowed"
        if isinstance(node, ast.Dict):
            return "dicts are not allowed"
        if isinstance(node, ast.Set):
            return "sets are not allowed"
        if isinstance(node, ast.IfExp):
            return "conditional expressions are not allowed"
        if isinstance(node, ast.NamedExpr):
            return "assignment expressions are not allowed"
        if isinstance(node, ast.Name):
            return f"the name {node.id!r} is not allowed here; only Q(...) calls are"
        if isinstance(node, ast.BinOp):
            return "arithmetic is not allowed; combine Q(...) terms with &, | and ~"
        if isinstance(node, (ast.Constant, ast.List, ast.Tuple)):
            return "a bare value is not a filter; write Q(field=value)"
        return f"{type(node).__name__} expressions are not allowed"

    def count_terms(self, terms: int, node: ast.Call) -> None:
        self.terms += terms
        if self.terms > MAX_TERMS:
            raise self.fail(
                f"it has more than {MAX_TERMS} terms (field comparisons); the limit is {MAX_TERMS}. "
                "Compare one field with many values through field__in=[...]",
                node,
            )

    def count_values(self, values: int, node: ast.expr) -> None:
        self.values += values
        if self.values > MAX_VALUES:
            raise self.fail(f"it compares more than {MAX_VALUES} values; the limit is {MAX_VALUES}", node)

    def call(self, node: ast.Call, depth: int) -> Q:
        """Return the Q for a ``Q(...)`` call, rejecting calls of anything else."""
        if not (isinstance(node.func, ast.Name) and node.func.id == "Q"):
            if isinstance(node.func, ast.Name):
                raise self.fail(f"calling {node.func.id!r} is not allowed; only Q(...) is", node)
            raise self.fail("only calls to Q(...) are allowed", node)
        self.calls += 1
        if self.calls > MAX_Q_CALLS:
            raise self.fail(f"it has more than {MAX_Q_CALLS} Q(...) calls; the limit is {MAX_Q_CALLS}", node)
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                raise self.fail("*args are not allowed in Q(...)", arg)
        for keyword in node.keywords:
            if keyword.arg is None:
                raise self.fail("**kwargs are not allowed in Q(...)", keyword)
        if node.args and node.keywords:
            raise self.fail("Q() takes keyword arguments or three positional ones, not both", node)
        try:
            if node.keywords:
                self.count_terms(len(node.keywords), node)
                source = self.segment(node)
                conditions: list[Node] = []
                for keyword in node.keywords:
                    value = self.value(keyword.value, depth + 1)
                    conditions.append(_keyword_condition(keyword.arg or "", value, source))
                return Q._of(conditions[0] if len(conditions) == 1 else _And(tuple(conditions)))
            if not node.args:
                return Q()
            if len(node.args) == 1:
                # JitAi wraps a single condition: Q(Q('status', '=', 'active')) is that condition.
                return self.expression(node.args[0], depth + 1)
            if len(node.args) != 3:
                raise self.fail(
                    "Q() takes keyword arguments field__lookup=value, three arguments ('field', 'op', value), "
                    "or one Q(...) to wrap",
                    node,
                )
            first, middle, last = node.args
            if isinstance(middle, ast.Attribute) and isinstance(middle.value, ast.Name) and middle.value.id == "Q":
                if middle.attr not in ("AND", "OR"):
                    raise self.fail("only Q.AND and Q.OR may join two Q(...) terms", middle)
                left = self.expression(first, depth + 1)
                right = self.expression(last, depth + 1)
                return left & right if middle.attr == "AND" else left | right
            self.count_terms(1, node)
            field = self.literal(first, depth + 1)
            op = self.literal(middle, depth + 1)
            value = self.value(last, depth + 1)
            return Q._of(_positional_condition(field, op, value, self.segment(node)))
        except FilterError as exc:
            if "— at `" in str(exc):
                raise
            raise FilterError(f"{exc}{_at(self.segment(node))}") from None

    def value(self, node: ast.expr, depth: int) -> Any:
        """Return a compared value (a literal or a flat list of them), counting it against MAX_VALUES."""
        if isinstance(node, (ast.List, ast.Tuple)):
            if len(node.elts) > MAX_LIST_ITEMS:
                raise self.fail(f"the list has {len(node.elts)} items; the limit is {MAX_LIST_ITEMS}", node)
            self.count_values(len(node.elts), node)
        else:
            self.count_values(1, node)
        return self.literal(node, depth)

    def literal(self, node: ast.expr, depth: int) -> Any:
        """Return the value of a literal argument: str, int, float, bool, None, or a flat list of those."""
        self.check_depth(depth, node)
        if isinstance(node, (ast.List, ast.Tuple)):
            if len(node.elts) > MAX_LIST_ITEMS:
                raise self.fail(f"the list has {len(node.elts)} items; the limit is {MAX_LIST_ITEMS}", node)
            items = []
            for item in node.elts:
                if isinstance(item, (ast.List, ast.Tuple)):
                    raise self.fail("lists inside lists are not allowed", item)
                items.append(self.literal(item, depth + 1))
            return items
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            operand = node.operand
            if (
                isinstance(operand, ast.Constant)
                and isinstance(operand.value, (int, float))
                and not isinstance(operand.value, bool)
            ):
                return self.scalar(-operand.value if isinstance(node.op, ast.USub) else operand.value, node)
        if isinstance(node, ast.Constant):
            return self.scalar(node.value, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
            problem = f"calling {node.func.id!r} is not allowed"
        elif isinstance(node, ast.Name):
            problem = f"the name {node.id!r} is not a value"
        elif isinstance(node, ast.BinOp):
            problem = "arithmetic is not allowed"
        else:
            problem = self.describe(node)
        raise self.fail(f"{problem}; values must be literals (str, int, float, bool, None, or a list of those)", node)

    def scalar(self, value: Any, node: ast.expr) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise self.fail(f"the string has {len(value)} characters; the limit is {MAX_STRING_CHARS}", node)
            problem = _text_problem(value)
            if problem:
                raise self.fail(f"the string {problem}", node)
            return value
        if isinstance(value, int):
            if not INT64_MIN <= value <= INT64_MAX:
                raise self.fail("the integer does not fit in 64 bits", node)
            return value
        if isinstance(value, float):
            if not math.isfinite(value):
                raise self.fail("the number is not finite", node)
            return value
        raise self.fail(f"{type(value).__name__} literals are not allowed", node)


# --- compiling to SQL -----------------------------------------------------------------------------


def compile_filter(
    q: Q,
    *,
    model: str,
    fields: Mapping[str, Field],
    columns: Mapping[str, ColumnElement[Any]],
) -> ColumnElement[bool] | None:
    """Return the SQL condition for ``q`` over a model's columns, or None when it matches all rows."""
    if q.node is None:
        return None
    return _Compiler(model, fields, columns).node(q.node)


def _is_not_true(condition: ColumnElement[bool]) -> ColumnElement[bool]:
    """Return ``condition IS NOT TRUE``: true where ``condition`` is false or NULL."""
    return condition.self_group().is_not(sa.true())


def _like_pattern(value: str) -> str:
    """Return the LIKE pattern for a like value: as written when it has a %, else "contains" it.

    So both of JitAi's forms work: ``Q(name__like='%John%')`` and ``Q('name', 'like', 'John')``.
    ``_`` stays LIKE's one-character wildcard in both.
    """
    return value if "%" in value else f"%{value}%"


class _UtcTimestamp(FunctionElement[Any]):
    """A date-time column read as UTC wall time, so year / month / day mean the same on every engine."""

    name = "jl_utc_timestamp"
    inherit_cache = True
    type = sa.DateTime()


@compiles(_UtcTimestamp)
def _compile_utc_timestamp(element: _UtcTimestamp, compiler: SQLCompiler, **kw: Any) -> str:
    # SQLite keeps date-times as naive UTC text already.
    return compiler.process(next(iter(element.clauses)), **kw)


@compiles(_UtcTimestamp, "postgresql")
def _compile_utc_timestamp_pg(element: _UtcTimestamp, compiler: SQLCompiler, **kw: Any) -> str:
    # EXTRACT on a timestamptz reads it in the session's time zone; pin it to UTC.
    return f"timezone('UTC', {compiler.process(next(iter(element.clauses)), **kw)})"


class _Compiler:
    def __init__(self, model: str, fields: Mapping[str, Field], columns: Mapping[str, ColumnElement[Any]]) -> None:
        self.model = model
        self.fields = fields
        self.columns = columns

    def node(self, node: Node) -> ColumnElement[bool]:
        if isinstance(node, Condition):
            return self.condition(node)
        if isinstance(node, _Not):
            # SQL's NOT keeps NULL as NULL, so rows with NULLs would match neither Q nor ~Q;
            # "IS NOT TRUE" is true for FALSE and NULL alike, so ~Q selects exactly the rows Q
            # does not. (It also nests far deeper than NOT coalesce(...) in SQLite's parser.)
            return _is_not_true(self.node(node.child))
        parts = [self.node(child) for child in node.children]
        return sa.and_(*parts) if isinstance(node, _And) else sa.or_(*parts)

    def fail(self, problem: str, cond: Condition) -> FilterError:
        return FilterError(f"invalid filter: {problem}{_at(cond.source)}")

    def condition(self, cond: Condition) -> ColumnElement[bool]:
        field = self.fields.get(cond.field)
        if field is None:
            raise self.fail(
                f"model {self.model} has no field {cond.field!r}{did_you_mean(cond.field, self.fields)}", cond
            )
        if field.secret:
            raise self.fail(
                f"{cond.field!r} is a Secret field: it is stored encrypted with a random nonce, "
                "so it cannot be filtered",
                cond,
            )
        lookup = cond.lookup
        if lookup not in field.lookups:
            raise self.fail(
                f"lookup {lookup!r} does not apply to {type(field).__name__} field {cond.field!r} "
                f"(it supports {', '.join(sorted(field.lookups))})",
                cond,
            )
        column = self.columns[cond.field]
        if lookup == "isnull":
            return column.is_(None) if cond.value else column.is_not(None)
        if lookup == "eq" and cond.value is None:
            return column.is_(None)
        if lookup == "ne" and cond.value is None:
            return column.is_not(None)
        if field.kind == "json":  # `like` against the JSON text
            column = sa.cast(column, sa.Text())
        matched: ColumnElement[bool]
        if lookup in ("like", "nlike"):
            matched = column.like(_like_pattern(self.value(field, cond.value, cond)))
            return matched if lookup == "like" else _is_not_true(matched)
        if lookup in ("likeany", "nlikeany"):
            patterns = [_like_pattern(self.value(field, v, cond)) for v in cond.value]
            matched = sa.or_(*(column.like(p) for p in patterns)) if patterns else sa.false()
            return matched if lookup == "likeany" else _is_not_true(matched)
        if lookup in _DATE_PART_RANGES:
            instant = _UtcTimestamp(column) if field.kind == "datetime" else column
            return sa.extract(lookup, instant) == cond.value
        if lookup in ("in", "nin"):
            values = [self.value(field, v, cond) for v in cond.value if v is not None]
            # One expanding parameter for the list: SQLAlchemy would otherwise coerce each value
            # into an expression of its own, which dominates the cost of a claim over a batch of ids.
            matched = column.in_(sa.bindparam(None, values, type_=column.type, expanding=True))
            if None in cond.value:
                matched = sa.or_(matched, column.is_(None))
            return matched if lookup == "in" else _is_not_true(matched)
        if lookup == "range":
            low, high = (self.value(field, v, cond) for v in cond.value)
            return column.between(low, high)
        value = self.value(field, cond.value, cond)
        if lookup == "eq":
            return column == value
        if lookup == "ne":
            return column.is_distinct_from(value)  # NULL-safe: rows holding NULL are "not equal"
        if lookup == "gt":
            return column > value
        if lookup == "gte":
            return column >= value
        if lookup == "lt":
            return column < value
        if lookup == "lte":
            return column <= value
        if lookup == "startswith":
            return column.startswith(value, autoescape=True)
        assert lookup == "endswith", lookup
        return column.endswith(value, autoescape=True)

    def value(self, field: Field, value: Any, cond: Condition) -> Any:
        try:
            return field.filter_value(value)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{type(field).__name__} field {cond.field!r}: {exc}", cond) from None
