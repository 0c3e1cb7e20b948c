"""Tokenizer and parser for the SOQL subset the fake supports.

Supported: field lists with parent relationship paths (``Account.Parent.Name``), ``COUNT()``
and ``COUNT(field)``, WHERE with AND/OR/NOT and parentheses (mixing AND and OR without
parentheses is refused, as Salesforce does), ``= != <> < <= > >=``, ``[NOT] IN (...)``,
``LIKE``, ``null``, booleans, numbers, strings, date and datetime literals, date functions
such as ``TODAY`` and ``LAST_N_DAYS:n``, ORDER BY with ASC/DESC and NULLS FIRST/LAST,
LIMIT and OFFSET.  Errors are MALFORMED_QUERY with Salesforce's positioned message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field as dataclass_field
from typing import Any

from .errors import QueryError

_TOKEN_RE = re.compile(r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d{1,3})?(?:Z|[+-]\d{2}:?\d{2}))
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\dT]))
  | (?P<number>[+-]?(?:\d+\.\d*|\.\d+|\d+)(?![\w.]))
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<op><=|>=|!=|<>|=|<|>)
  | (?P<punct>[(),:])
""", re.VERBOSE)
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", '"': '"', "'": "'", "\\": "\\", "_": "\\_",
            "%": "\\%"}
DATE_FUNCTIONS = frozenset({
    "YESTERDAY", "TODAY", "TOMORROW", "LAST_WEEK", "THIS_WEEK", "NEXT_WEEK", "LAST_MONTH", "THIS_MONTH",
    "NEXT_MONTH", "LAST_90_DAYS", "NEXT_90_DAYS", "THIS_QUARTER", "LAST_QUARTER", "NEXT_QUARTER", "THIS_YEAR",
    "LAST_YEAR", "NEXT_YEAR",
})
DATE_FUNCTIONS_N = frozenset({"LAST_N_DAYS", "NEXT_N_DAYS", "N_DAYS_AGO", "LAST_N_WEEKS", "NEXT_N_WEEKS",
                              "LAST_N_MONTHS", "NEXT_N_MONTHS", "LAST_N_YEARS", "NEXT_N_YEARS"})
_CLAUSE_WORDS = frozenset({"SELECT", "FROM", "WHERE", "ORDER", "BY", "LIMIT", "OFFSET", "AND", "OR", "NOT", "IN",
                           "LIKE", "ASC", "DESC", "NULLS", "FIRST", "LAST", "GROUP", "HAVING", "WITH", "FOR",
                           "USING", "INCLUDES", "EXCLUDES", "TYPEOF", "ALL", "ROWS"})


@dataclass
class Token:
    kind: str
    text: str
    position: int

    @property
    def upper(self) -> str:
        return self.text.upper()


@dataclass
class FieldRef:
    """A (possibly dotted) field path as written, and where."""

    path: list[str]
    position: int

    @property
    def text(self) -> str:
        return ".".join(self.path)


@dataclass
class Literal:
    """A typed literal: kind is string|number|boolean|null|date|datetime|date_function."""

    kind: str
    value: Any
    position: int
    text: str
    n: int | None = None  # for LAST_N_DAYS:n and friends


@dataclass
class Comparison:
    field: FieldRef
    operator: str  # = != < <= > >= IN NOT IN LIKE
    value: Any  # Literal or list[Literal]


@dataclass
class BoolOp:
    operator: str  # AND | OR
    operands: list[Any]


@dataclass
class Not:
    operand: Any


@dataclass
class OrderItem:
    field: FieldRef
    descending: bool = False
    nulls_last: bool = False


@dataclass
class SelectCount:
    field: FieldRef | None
    position: int


@dataclass
class Query:
    soql: str
    select: list[Any]
    sobject: str
    sobject_position: int
    where: Any = None
    order_by: list[OrderItem] = dataclass_field(default_factory=list)
    limit: int | None = None
    offset: int | None = None

    @property
    def is_count(self) -> bool:
        return len(self.select) == 1 and isinstance(self.select[0], SelectCount) and self.select[0].field is None


def tokenize(soql: str) -> list[Token]:
    """Tokens with their offsets; an unknown character is a MALFORMED_QUERY at its position."""
    tokens: list[Token] = []
    position = 0
    while position < len(soql):
        match = _TOKEN_RE.match(soql, position)
        if not match:
            raise QueryError("MALFORMED_QUERY", f"unexpected token: '{soql[position]}'", soql, position)
        kind = match.lastgroup
        if kind != "ws":
            tokens.append(Token(kind, match.group(), position))  # type: ignore[arg-type]
        position = match.end()
    tokens.append(Token("eof", "<EOF>", len(soql)))
    return tokens


def _unescape(body: str, soql: str, position: int) -> str:
    out = []
    index = 0
    while index < len(body):
        char = body[index]
        if char == "\\":
            index += 1
            escaped = body[index] if index < len(body) else ""
            if escaped not in _ESCAPES:
                raise QueryError("MALFORMED_QUERY", "Invalid string literal. Illegal character sequence "
                                 f"'\\{escaped}' in string literal.", soql, position)
            out.append(_ESCAPES[escaped])
        else:
            out.append(char)
        index += 1
    return "".join(out)


class Parser:
    """Recursive-descent parser producing a :class:`Query`."""

    def __init__(self, soql: str) -> None:
        self.soql = soql
        self.tokens = tokenize(soql)
        self.index = 0

    # -------------------------------------------------------------- helpers
    @property
    def current(self) -> Token:
        return self.tokens[self.index]

    def _advance(self) -> Token:
        token = self.tokens[self.index]
        self.index += 1
        return token

    def _unexpected(self, token: Token | None = None) -> QueryError:
        token = token or self.current
        shown = token.text if token.kind != "eof" else "<EOF>"
        return QueryError("MALFORMED_QUERY", f"unexpected token: '{shown}'", self.soql, token.position)

    def _keyword(self, *words: str) -> bool:
        return self.current.kind == "ident" and self.current.upper in words

    def _expect_keyword(self, word: str) -> Token:
        if not self._keyword(word):
            raise self._unexpected()
        return self._advance()

    def _expect(self, text: str) -> Token:
        if self.current.text != text:
            raise self._unexpected()
        return self._advance()

    # -------------------------------------------------------------- grammar
    def parse(self) -> Query:
        self._expect_keyword("SELECT")
        select = [self._select_item()]
        while self.current.text == ",":
            self._advance()
            select.append(self._select_item())
        self._expect_keyword("FROM")
        sobject_token = self._advance()
        if sobject_token.kind != "ident" or "." in sobject_token.text:
            raise self._unexpected(sobject_token)
        query = Query(self.soql, select, sobject_token.text, sobject_token.position)
        if self._keyword("WHERE"):
            self._advance()
            query.where = self._condition()
        if self._keyword("GROUP", "HAVING", "WITH", "USING", "TYPEOF"):
            raise QueryError("MALFORMED_QUERY", f"{self.current.upper} is not supported by this fake org",
                             self.soql, self.current.position)
        if self._keyword("ORDER"):
            self._advance()
            self._expect_keyword("BY")
            query.order_by.append(self._order_item())
            while self.current.text == ",":
                self._advance()
                query.order_by.append(self._order_item())
        if self._keyword("LIMIT"):
            self._advance()
            query.limit = self._integer()
        if self._keyword("OFFSET"):
            self._advance()
            query.offset = self._integer()
        if self._keyword("FOR"):
            self._advance()
            if not self._keyword("VIEW", "REFERENCE", "UPDATE"):
                raise self._unexpected()
            self._advance()
        if self._keyword("ALL"):
            self._advance()
            self._expect_keyword("ROWS")
        if self.current.kind != "eof":
            raise self._unexpected()
        return query

    def _select_item(self) -> Any:
        token = self.current
        if token.kind == "ident" and token.upper == "COUNT" and self.tokens[self.index + 1].text == "(":
            self._advance()
            self._advance()
            counted = None if self.current.text == ")" else self._field_ref()
            self._expect(")")
            return SelectCount(counted, token.position)
        if token.text == "(":
            raise QueryError("MALFORMED_QUERY", "Relationship subqueries are not supported by this fake org",
                             self.soql, token.position)
        return self._field_ref()

    def _field_ref(self) -> FieldRef:
        token = self.current
        if token.kind != "ident" or token.upper in _CLAUSE_WORDS - {"FIRST", "LAST"}:
            raise self._unexpected()
        self._advance()
        return FieldRef(token.text.split("."), token.position)

    def _integer(self) -> int:
        token = self._advance()
        if token.kind != "number" or not token.text.lstrip("+").isdigit():
            raise self._unexpected(token)
        return int(token.text)

    def _order_item(self) -> OrderItem:
        item = OrderItem(self._field_ref())
        if self._keyword("ASC", "DESC"):
            item.descending = self._advance().upper == "DESC"
        item.nulls_last = item.descending
        if self._keyword("NULLS"):
            self._advance()
            if not self._keyword("FIRST", "LAST"):
                raise self._unexpected()
            item.nulls_last = self._advance().upper == "LAST"
        return item

    def _condition(self) -> Any:
        operands = [self._unary()]
        operator = None
        while self._keyword("AND", "OR"):
            token = self._advance()
            if operator is not None and token.upper != operator:
                raise self._unexpected(token)
            operator = token.upper
            operands.append(self._unary())
        return operands[0] if operator is None else BoolOp(operator, operands)

    def _unary(self) -> Any:
        if self._keyword("NOT"):
            self._advance()
            return Not(self._unary())
        if self.current.text == "(":
            self._advance()
            inner = self._condition()
            self._expect(")")
            return inner
        return self._comparison()

    def _comparison(self) -> Comparison:
        field = self._field_ref()
        token = self.current
        if token.kind == "op":
            self._advance()
            operator = "!=" if token.text == "<>" else token.text
            return Comparison(field, operator, self._literal())
        if self._keyword("LIKE"):
            self._advance()
            return Comparison(field, "LIKE", self._literal())
        negate = False
        if self._keyword("NOT"):
            self._advance()
            negate = True
            if not self._keyword("IN"):
                raise self._unexpected()
        if self._keyword("IN"):
            self._advance()
            self._expect("(")
            values = [self._literal()]
            while self.current.text == ",":
                self._advance()
                values.append(self._literal())
            self._expect(")")
            return Comparison(field, "NOT IN" if negate else "IN", values)
        if self._keyword("INCLUDES", "EXCLUDES"):
            raise QueryError("MALFORMED_QUERY", "INCLUDES/EXCLUDES are not supported by this fake org",
                             self.soql, token.position)
        raise self._unexpected()

    def _literal(self) -> Literal:
        token = self._advance()
        if token.kind == "string":
            return Literal("string", _unescape(token.text[1:-1], self.soql, token.position), token.position, token.text)
        if token.kind == "number":
            return Literal("number", float(token.text), token.position, token.text)
        if token.kind == "date":
            return Literal("date", token.text, token.position, token.text)
        if token.kind == "datetime":
            return Literal("datetime", token.text, token.position, token.text)
        if token.kind == "ident":
            word = token.upper
            if word in ("TRUE", "FALSE"):
                return Literal("boolean", word == "TRUE", token.position, token.text)
            if word == "NULL":
                return Literal("null", None, token.position, token.text)
            if word in DATE_FUNCTIONS:
                return Literal("date_function", word, token.position, token.text)
            if word in DATE_FUNCTIONS_N:
                self._expect(":")
                n = self._integer()
                return Literal("date_function", word, token.position, f"{token.text}:{n}", n=n)
        raise self._unexpected(token)


def parse(soql: str) -> Query:
    """Parse SOQL text into a :class:`Query` (raises QueryError)."""
    return Parser(soql.strip() if soql else "").parse()
