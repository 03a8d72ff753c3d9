"""Signature matching: a clause's items fitted to its verb's positional slots, keywords and flags.

An optional positional slot is skipped when the item does not fit its type
(`_fits`, which reports nothing), so `transition crossfade 1s` and
`transition crossfade` both read naturally.
"""

from __future__ import annotations

from typing import Any

from ...core import codes
from ...core import signatures as sig
from ...core.diagnostics import Span, suggestion
from ...core.values import NAMED_COLORS
from .. import ast
from . import cells
from .coerce import FRAME_PRESETS, coerce, fits_kind
from .state import FAIL, Instance, State
from .text import describe_item, end_of, example, expected_text, short, slot_text, usage


def match_clause(st: State, signature: sig.Signature, items, inst: Instance, clause_span: Span, what: str) -> dict | None:
    """Fill a signature's slots from a clause's items; None if anything did not fit."""
    args: dict[str, Any] = {}
    ok = True
    positional = list(signature.positional)
    pi = 0
    i = 0
    verb = signature.verb
    while i < len(items):
        item = items[i]
        keyword = None
        if isinstance(item, ast.Word) and not item.index:
            nxt = items[i + 1] if i + 1 < len(items) else None
            if isinstance(nxt, ast.Word) and signature.keyword(f"{item.name} {nxt.name}"):
                keyword, width = signature.keyword(f"{item.name} {nxt.name}"), 2
            elif signature.keyword(item.name):
                keyword, width = signature.keyword(item.name), 1
            elif item.name in signature.flags:
                if item.name in args:
                    st.error(item.span, f"`{item.name}` given twice", codes.GIVEN_TWICE)
                    ok = False
                args[item.name] = True
                i += 1
                continue
        if keyword is not None:
            kw_span = Span(item.span.file, item.span.line, item.span.column, items[i + width - 1].span.end_line,
                           items[i + width - 1].span.end_column)
            if keyword.name in args:
                st.error(kw_span, f"`{keyword.name}` given twice in `{verb}`", codes.GIVEN_TWICE)
                ok = False
            value_item = items[i + width] if i + width < len(items) else None
            if value_item is None or (isinstance(value_item, ast.Word) and (
                    value_item.name in signature.words or value_item.name.split(" ")[0] in {w.split(" ")[0] for w in signature.words})
                    and not isinstance(keyword.type, tuple)):
                end = Span(kw_span.file, kw_span.end_line, kw_span.end_column, kw_span.end_line, kw_span.end_column + 1)
                st.error(end, f"missing value after `{keyword.name}`", codes.MISSING_KEYWORD_VALUE,
                         expected=(expected_text(keyword.type),),
                         help=f"write e.g. `{keyword.name} {example(keyword.type)}`")
                ok = False
                i += width
                continue
            value = coerce(st, value_item, keyword.type, inst, keyword, f"`{keyword.name}`")
            then = items[i + width + 1] if keyword.then is not None and i + width + 1 < len(items) else None
            if then is not None and _fits(st, then, keyword.then, inst):  # `border 4px #fff`: a value pair
                second = coerce(st, then, keyword.then, inst, keyword, f"`{keyword.name}`")
                value = FAIL if second is FAIL else value if value is FAIL else (value, second)
                i += 1
            if value is FAIL:
                ok = False
            else:
                args[keyword.name] = value
            i += width + 1
            continue
        placed = False
        while pi < len(positional):
            slot = positional[pi]
            if slot.many:
                value = coerce(st, item, slot.type, inst, slot, f"`{verb}`")
                if value is FAIL:
                    ok = False
                else:
                    args.setdefault(slot.name, ())
                    args[slot.name] = args[slot.name] + (value if isinstance(value, tuple) else (value,))
                placed = True
                break
            if slot.required or _fits(st, item, slot.type, inst):
                value = coerce(st, item, slot.type, inst, slot, f"`{verb}`" if slot.required else f"`{verb}` {slot.name}")
                if value is FAIL:
                    ok = False
                else:
                    args[slot.name] = value
                pi += 1
                placed = True
                break
            pi += 1
        if not placed:
            ok = False
            _unexpected(st, item, signature, what)
            nxt = items[i + 1] if i + 1 < len(items) else None
            if isinstance(item, ast.Word) and nxt is not None and not isinstance(nxt, ast.Word):
                i += 1  # a misspelt keyword: its value is not a second error
        i += 1
    for slot in signature.positional:
        if slot.required and slot.name not in args and ok:
            st.error(end_of(clause_span), f"`{verb}` needs {slot_text(slot)}", codes.MISSING_ARGUMENT,
                     help=f"write e.g. `{verb} {example(slot.type)}`")
            ok = False
    for slot in signature.keywords:
        if slot.required and slot.name not in args and ok:
            st.error(end_of(clause_span), f"`{verb}` needs `{slot.name} <{short(slot.type)}>`", codes.MISSING_ARGUMENT,
                     help=f"write e.g. `{verb} … {slot.name} {example(slot.type)}`")
            ok = False
    if signature.at_least_one and ok and not any(s.name in args for s in signature.keywords):
        st.error(clause_span, f"`{verb}` needs at least one of: {', '.join(s.name for s in signature.keywords)}", codes.NEEDS_ONE_OF)
        ok = False
    return args if ok else None


def _fits(st: State, item, spec, inst: Instance) -> bool:
    """Whether item could fill an optional positional slot (no diagnostics)."""
    if isinstance(item, ast.Var) and cells.is_cell(item):  # `$row.look`: by the cell's value (docs/variants.md)
        return cells.fits(item, inst.env, spec)
    if isinstance(spec, tuple):
        if isinstance(item, ast.Var):
            # A text value goes to the enum slot, which explains a value outside its choices.
            b = inst.env.get(item.name)
            p = st.params.get(item.name)
            return isinstance(b.value if b is not None else p.value if p is not None else None, str)
        return isinstance(item, ast.Word) and item.name in spec
    if spec in ("media", "draft", "source", "look", "path"):
        return isinstance(item, (ast.Word, ast.StringLit))
    kinds = spec.split("|")
    if isinstance(item, ast.Literal):
        return item.value is not None and any(fits_kind(item.value, k) for k in kinds)
    if isinstance(item, ast.Var):
        p = st.params.get(item.name)
        b = inst.env.get(item.name)
        value = b.value if b is not None else (p.value if p is not None else None)
        return value is not None and any(fits_kind(value, k) for k in kinds)
    if isinstance(item, ast.StringLit):
        return "string" in kinds
    if isinstance(item, ast.Word):
        return ("color" in kinds and item.name in NAMED_COLORS) or ("frame" in kinds and item.name in FRAME_PRESETS)
    return False


def _unexpected(st: State, item, signature: sig.Signature, what: str) -> None:
    """Report an item no slot took: a likely misspelt keyword gets a suggestion."""
    verb = signature.verb
    if isinstance(item, ast.Word):
        words = signature.words
        hint = suggestion(item.name, words)
        exp = tuple(f"`{w}`" for w in words)
        st.error(item.span, f"`{item.name}` is not something `{verb}` takes", codes.UNEXPECTED_ARGUMENT, expected=exp,
                 help=hint or (f"`{verb}` takes: " + usage(signature)))
    else:
        st.error(item.span, f"`{verb}` does not take {describe_item(item)} here", codes.UNEXPECTED_ARGUMENT,
                 help=f"`{verb}` takes: " + usage(signature))


def signature_of(st: State, clause: ast.Clause, table: dict[str, sig.Signature], what: str):
    """The signature a clause's first word names in `table`, or None (reported)."""
    head = clause.items[0]
    if not isinstance(head, ast.Word) or head.index:
        st.error(head.span, f"a line in {what} starts with what it does, got {describe_item(head)}", codes.CLAUSE_NOT_A_VERB,
                 expected=tuple(f"`{v}`" for v in table))
        return None
    signature = table.get(head.name)
    if signature is None:
        st.error(head.span, f"unknown edit operation `{head.name}`" if "edit" in what
                 else f"unknown export setting `{head.name}`" if "export" in what else f"unknown `{head.name}`",
                 codes.UNKNOWN_OPERATION, expected=tuple(f"`{v}`" for v in table), help=suggestion(head.name, table))
        return None
    return signature
