"""Q filters: built in Python or parsed from filter strings, compiled to bound SQL expressions.

A filter string is parsed with ``ast`` and walked node by node; only ``Q(...)`` calls with literal
arguments combined with ``&``, ``|`` and ``~`` get through. Nothing is evaluated and no SQL text is
built from the filter: it becomes SQLAlchemy expressions whose values travel as bound parameters.
"""

from __future__ import annotations

import ast
import dataclasses
import io
import math
import tokenize
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any, ClassVar

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from .errors import FilterError, did_you_mean
from .fields import ALL_LOOKUPS, INT64_MAX, INT64_MIN, Field

__all__ = ["Q", "compile_filter", "parse_filter", "to_q"]

MAX_SOURCE_CHARS = 100_000
MAX_STRING_CHARS = 10_000
MAX_LIST_ITEMS = 10_000
MAX_DEPTH = 32

# The operators of the positional form Q('field', 'op', value), mapped to lookups.
OPERATORS: dict[str, str] = {
    "=": "eq",
    "==": "eq",
    "!=": "ne",
    ">": "gt",
    ">=": "gte",
    "<": "lt",
    "<=": "lte",
    "in": "in",
    "nin": "nin",
    "like": "like",
    "startswith": "startswith",
    "endswith": "endswith",
    "isnull": "isnull",
    "range": "range",
}
_SCALARS = (str, int, float, bool, type(None), Decimal, datetime)


# --- the filter tree ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Condition:
    """One comparison: ``field`` ``lookup`` ``value``; ``source`` is what error messages quote."""

    field: str
    lookup: str
    value: Any
    source: str = dataclasses.field(compare=False)


@dataclass(frozen=True)
class _And:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class _Or:
    children: tuple[Node, ...]


@dataclass(frozen=True)
class _Not:
    child: Node


Node = Condition | _And | _Or | _Not


class Q:
    """A filter: ``Q(userId='u1')``, ``Q('age', '>', 18)``, ``Q(q1, Q.OR, q2)``, combined with & | ~.

    ``Q()`` matches every row. Keyword arguments are ``field__lookup=value`` and are AND-ed; the
    lookups are eq (none), ne, gt, gte, lt, lte, in, nin, like, startswith, endswith, isnull, range.
    """

    AND: ClassVar[str] = "AND"
    OR: ClassVar[str] = "OR"
    __slots__ = ("node",)

    node: Node | None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if args and kwargs:
            raise FilterError("invalid filter: Q() takes keyword arguments or three positional ones, not both")
        if kwargs:
            conditions = [_keyword_condition(name, value, _kwarg_source(name, value)) for name, value in kwargs.items()]
            self.node = conditions[0] if len(conditions) == 1 else _And(tuple(conditions))
        elif not args:
            self.node = None
        elif len(args) == 3 and isinstance(args[0], Q):
            left, joiner, right = args
            if joiner not in (Q.AND, Q.OR) or not isinstance(right, Q):
                raise FilterError(
                    f"invalid filter: Q(q1, joiner, q2) needs Q.AND or Q.OR between two Q objects, got {args!r:.200}"
                )
            combined = left & right if joiner == Q.AND else left | right
            self.node = combined.node
        elif len(args) == 3:
            field, op, value = args
            self.node = _positional_condition(field, op, value, _args_source(args))
        else:
            raise FilterError(
                "invalid filter: Q() takes keyword arguments field__lookup=value, or three arguments "
                f"('field', 'op', value) or (q1, Q.AND|Q.OR, q2); got {len(args)} positional arguments"
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
        return Q._of(_Not(self.node))

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
    parts: list[Node] = []
    for side in (left, right):
        parts.extend(side.children if isinstance(side, kind) else (side,))
    return kind(tuple(parts))


def _render(node: Node) -> str:
    if isinstance(node, Condition):
        return node.source
    if isinstance(node, _Not):
        return f"~{_render_operand(node.child)}"
    joiner = " & " if isinstance(node, _And) else " | "
    return joiner.join(_render_operand(child) for child in node.children)


def _render_operand(node: Node) -> str:
    text = _render(node)
    return f"({text})" if isinstance(node, (_And, _Or)) else text


def _kwarg_source(name: str, value: Any) -> str:
    return f"Q({name}={value!r})"


def _args_source(args: tuple[Any, ...]) -> str:
    return "Q(" + ", ".join(repr(a) for a in args) + ")"


def _keyword_condition(name: str, value: Any, source: str) -> Condition:
    field, sep, lookup = name.rpartition("__")
    if not sep:
        field, lookup = name, "eq"
    elif lookup not in ALL_LOOKUPS:
        raise FilterError(
            f"invalid filter: unknown lookup {lookup!r}{did_you_mean(lookup, sorted(ALL_LOOKUPS))} — at `{source}`"
        )
    return _condition(field, lookup, value, source)


def _positional_condition(field: Any, op: Any, value: Any, source: str) -> Condition:
    if not isinstance(field, str):
        raise FilterError(f"invalid filter: the field name must be a string — at `{source}`")
    if not isinstance(op, str) or op not in OPERATORS:
        hint = (did_you_mean(op, OPERATORS) if isinstance(op, str) else "") or "."
        raise FilterError(
            f"invalid filter: unknown operator {op!r}{hint} The operators are {' '.join(OPERATORS)} — at `{source}`"
        )
    return _condition(field, OPERATORS[op], value, source)


def _condition(field: str, lookup: str, value: Any, source: str) -> Condition:
    """Return a condition after checking that the value has the shape its lookup needs."""
    if not field.isidentifier() or "__" in field:
        raise FilterError(f"invalid filter: {field!r} is not a field name — at `{source}`")
    if lookup in ("in", "nin"):
        if not isinstance(value, (list, tuple, set, frozenset)):
            raise FilterError(f"invalid filter: {lookup!r} needs a list of values — at `{source}`")
        value = tuple(value)
        _check_scalars(value, source)
    elif lookup == "range":
        if not isinstance(value, (list, tuple)) or len(value) != 2 or None in value:
            raise FilterError(f"invalid filter: 'range' needs a list of two values [low, high] — at `{source}`")
        value = tuple(value)
        _check_scalars(value, source)
    elif lookup == "isnull":
        if not isinstance(value, bool):
            raise FilterError(f"invalid filter: 'isnull' needs True or False — at `{source}`")
    elif lookup in ("like", "startswith", "endswith"):
        if not isinstance(value, str):
            raise FilterError(f"invalid filter: {lookup!r} needs a string — at `{source}`")
    else:
        _check_scalars((value,), source)
        if value is None and lookup not in ("eq", "ne"):
            raise FilterError(f"invalid filter: {lookup!r} cannot compare with None — at `{source}`")
    return Condition(field, lookup, value, source)


def _check_scalars(values: Iterable[Any], source: str) -> None:
    for value in values:
        if not isinstance(value, _SCALARS):
            raise FilterError(
                f"invalid filter: {type(value).__name__} is not a filter value (use str, int, float, "
                f"bool, None, Decimal or datetime) — at `{source}`"
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


def parse_filter(source: str) -> Q:
    """Parse a filter string such as ``"Q(userId='u1') & ~Q(status__in=['offline'])"`` into a Q."""
    if not isinstance(source, str):
        raise FilterError(f"invalid filter: expected a string, got {type(source).__name__}")
    if len(source) > MAX_SOURCE_CHARS:
        raise FilterError(f"invalid filter: it is {len(source)} characters long; the limit is {MAX_SOURCE_CHARS}")
    if not source.strip():
        return Q()
    _check_bracket_depth(source)
    try:
        tree = ast.parse(source.strip(), mode="eval")
    except SyntaxError as exc:
        raise FilterError(_syntax_message(source.strip(), exc)) from None
    except ValueError as exc:  # e.g. NUL bytes in the source
        raise FilterError(f"invalid filter: {exc}") from None
    except (RecursionError, MemoryError):
        # CPython's parser gives up on very deep nesting before our own depth check can run.
        raise FilterError(f"invalid filter: it nests deeper than {MAX_DEPTH} levels") from None
    return _Parser(source.strip()).expression(tree.body, 1)


def _check_bracket_depth(source: str) -> None:
    """Reject brackets nested deeper than MAX_DEPTH (they add no AST nodes, so count tokens)."""
    depth = 0
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type != tokenize.OP:
                continue
            if token.string in "([{":
                depth += 1
                if depth > MAX_DEPTH:
                    raise FilterError(
                        f"invalid filter: it nests deeper than {MAX_DEPTH} levels (column {token.start[1] + 1})"
                    )
            elif token.string in ")]}":
                depth -= 1
    except (tokenize.TokenError, SyntaxError):
        return  # unbalanced or untokenizable: ast.parse reports it with a better message


def _syntax_message(source: str, exc: SyntaxError) -> str:
    shown = source if len(source) <= 200 else source[:197] + "..."
    shown = shown if shown.isprintable() else repr(shown)  # no raw control characters in messages
    message = f"invalid filter: `{shown}` is not a valid filter expression ({exc.msg}"
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
    """Turn an ``ast`` expression into a Q, allowing only the filter grammar."""

    def __init__(self, source: str) -> None:
        self.source = source

    def segment(self, node: ast.AST) -> str:
        text = ast.get_source_segment(self.source, node) or ast.dump(node)
        return text if len(text) <= 200 else text[:197] + "..."

    def fail(self, problem: str, node: ast.AST) -> FilterError:
        return FilterError(f"invalid filter: {problem} — at `{self.segment(node)}`")

    def check_depth(self, depth: int, node: ast.AST) -> None:
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
            result = self.expression(operands[-1], depth + 1)
            for operand in reversed(operands[:-1]):
                term = self.expression(operand, depth + 1)
                result = result & term if op_type is ast.BitAnd else result | term
            return result
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

    def call(self, node: ast.Call, depth: int) -> Q:
        """Return the Q for a ``Q(...)`` call, rejecting calls of anything else."""
        if not (isinstance(node.func, ast.Name) and node.func.id == "Q"):
            if isinstance(node.func, ast.Name):
                raise self.fail(f"calling {node.func.id!r} is not allowed; only Q(...) is", node)
            raise self.fail("only calls to Q(...) are allowed", node)
        source = self.segment(node)
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
                conditions: list[Node] = []
                for keyword in node.keywords:
                    assert keyword.arg is not None
                    value = self.literal(keyword.value, depth + 1)
                    conditions.append(_keyword_condition(keyword.arg, value, source))
                return Q._of(conditions[0] if len(conditions) == 1 else _And(tuple(conditions)))
            if not node.args:
                return Q()
            if len(node.args) != 3:
                raise self.fail(
                    "Q() takes keyword arguments field__lookup=value or three arguments ('field', 'op', value)",
                    node,
                )
            first, middle, last = node.args
            if isinstance(middle, ast.Attribute) and isinstance(middle.value, ast.Name) and middle.value.id == "Q":
                if middle.attr not in ("AND", "OR"):
                    raise self.fail("only Q.AND and Q.OR may join two Q(...) terms", middle)
                left = self.expression(first, depth + 1)
                right = self.expression(last, depth + 1)
                return left & right if middle.attr == "AND" else left | right
            field = self.literal(first, depth + 1)
            op = self.literal(middle, depth + 1)
            value = self.literal(last, depth + 1)
            return Q._of(_positional_condition(field, op, value, source))
        except FilterError as exc:
            if "— at `" in str(exc):
                raise
            raise FilterError(f"{exc} — at `{source}`") from None

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

    def scalar(self, value: Any, node: ast.AST) -> Any:
        if isinstance(value, bool) or value is None:
            return value
        if isinstance(value, str):
            if len(value) > MAX_STRING_CHARS:
                raise self.fail(f"the string has {len(value)} characters; the limit is {MAX_STRING_CHARS}", node)
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
            # coalescing makes ~Q select exactly the rows that Q does not.
            return sa.not_(sa.func.coalesce(self.node(node.child), sa.false()))
        parts = [self.node(child) for child in node.children]
        return sa.and_(*parts) if isinstance(node, _And) else sa.or_(*parts)

    def fail(self, problem: str, cond: Condition) -> FilterError:
        return FilterError(f"invalid filter: {problem} — at `{cond.source}`")

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
            return column.like(self.value(field, cond.value, cond))
        if lookup in ("in", "nin"):
            values = [self.value(field, v, cond) for v in cond.value if v is not None]
            matched: ColumnElement[bool] = column.in_(values)
            if None in cond.value:
                matched = sa.or_(matched, column.is_(None))
            return matched if lookup == "in" else sa.not_(sa.func.coalesce(matched, sa.false()))
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
        if lookup == "like":
            return column.like(value)
        if lookup == "startswith":
            return column.startswith(value, autoescape=True)
        assert lookup == "endswith", lookup
        return column.endswith(value, autoescape=True)

    def value(self, field: Field, value: Any, cond: Condition) -> Any:
        try:
            return field.filter_value(value)
        except (TypeError, ValueError) as exc:
            raise self.fail(f"{type(field).__name__} field {cond.field!r}: {exc}", cond) from None
