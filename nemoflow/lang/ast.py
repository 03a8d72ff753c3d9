"""The syntax tree of a recipe: frozen attrs nodes, each with its source span.

The tree keeps what was written (a literal's text, a clause's words) so the
formatter can print it back; meaning is assigned later by the checker.
"""

from __future__ import annotations

from typing import Any, Union

import attrs

from ..core.diagnostics import Span
from .literals import Interpolation


@attrs.frozen
class Ident:
    name: str
    span: Span


@attrs.frozen
class Literal:
    """A number, quantity, timecode, ratio, color or boolean, as written."""

    kind: str  # quantity | timecode | ratio | color | boolean
    text: str
    value: Any
    span: Span


@attrs.frozen
class StringLit:
    text: str  # source text, quotes included
    parts: tuple[Union[str, Interpolation], ...]
    value: str  # unescaped, interpolations shown as `${…}`
    span: Span

    @property
    def is_plain(self) -> bool:
        return all(isinstance(p, str) for p in self.parts)


@attrs.frozen
class Var:
    """`$name`: a param or a loop value."""

    name: str
    span: Span


@attrs.frozen
class Word:
    """A bare name in a clause: a keyword of the verb, an enum value or a reference."""

    name: str
    span: Span
    index: tuple[str, ...] = ()  # `short[clip_a]`

    @property
    def text(self) -> str:
        return self.name + "".join(f"[{k}]" for k in self.index)


@attrs.frozen
class Ref:
    """A reference to a step, `cut`, or to one fan-out instance, `short[clip_a]`."""

    name: str
    index: tuple[str, ...]
    span: Span

    @property
    def text(self) -> str:
        return self.name + "".join(f"[{k}]" for k in self.index)


@attrs.frozen
class ListLit:
    items: tuple[Value, ...]
    span: Span


Value = Union[Literal, StringLit, Var, ListLit]
Item = Union[Literal, StringLit, Var, ListLit, Word]


@attrs.frozen
class Clause:
    """`verb item item …` on one line."""

    items: tuple[Item, ...]
    span: Span

    @property
    def verb(self) -> Item:
        return self.items[0]


@attrs.frozen
class Header:
    version: Literal
    span: Span


@attrs.frozen
class Include:
    path: StringLit
    span: Span


@attrs.frozen
class Engine:
    """`engine nemo`: which engine runs the recipe (the name is checked later)."""

    name: Ident
    span: Span


@attrs.frozen
class Param:
    name: Ident
    type: Ident | None
    default: Value | None
    span: Span


@attrs.frozen
class Media:
    name: Ident
    source: Clause
    span: Span


@attrs.frozen
class Edit:
    name: Ident
    base: Ref | None
    body: tuple[Clause, ...]
    span: Span
    close: Span  # the closing brace, for the formatter's comment placement


@attrs.frozen
class Ask:
    name: Ident
    base: Ref
    instruction: Value
    span: Span


@attrs.frozen
class Export:
    name: Ident
    base: Ref
    body: tuple[Clause, ...]
    span: Span
    close: Span


@attrs.frozen
class Assertion:
    """`duration <= 12s`, `has no audio`, `no black frames`, `av sync within 20ms`,
    `frame at 5s looks like "g.png" ssim >= 0.97`, `tracks == 1 video + 1 audio`."""

    subject: tuple[Item, ...]  # words, and the values between them (`frame at 5s looks like "g.png" ssim`)
    op: str  # a comparison, "has", "no", "within", or "" (`caption "Hello" at 3s`: the last value after words)
    value: Item | None
    span: Span
    more: tuple[Item, ...] = ()  # items after the value (`+ 1 audio`); `+` is a Word named "+"

    @property
    def subject_text(self) -> str:
        """The words of the subject (values between them left out): `frame at looks like ssim`."""
        return " ".join(w.name for w in self.subject if isinstance(w, Word))


@attrs.frozen
class Expect:
    target: Ref
    body: tuple[Assertion, ...]
    span: Span
    close: Span


@attrs.frozen
class Glob:
    pattern: StringLit
    span: Span


@attrs.frozen
class Table(Glob):
    """`table("shots.csv") key row.sku`: a data table's rows (docs/variants.md); a Glob subclass so code that only
    walks the path string (formatter, language server) keeps working."""

    key: Ident | None = None  # the column after `key row.`; None: the first column
    key_var: Ident | None = None  # the `row` of `key row.sku` (must be the loop variable)

    @property
    def key_var_name(self) -> str:
        return self.key_var.name if self.key_var else ""


@attrs.frozen
class ForLoop:
    var: Ident
    iterable: ListLit | Glob | Table | Var
    body: tuple[Statement, ...]
    span: Span
    close: Span


Statement = Union[Include, Engine, Param, Media, Edit, Ask, Export, Expect, ForLoop]


@attrs.frozen
class Comment:
    text: str
    span: Span


@attrs.frozen
class Module:
    """One parsed file."""

    file: str
    header: Header
    statements: tuple[Statement, ...]
    comments: tuple[Comment, ...]

