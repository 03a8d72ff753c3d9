"""Params: declared defaults, then a params file (`--params`), then `--set`, each checked against the param's type.

Overrides arrive as text (or TOML/JSON values) and are read with the
recipe's own literal syntax, so `--set size=1080p` means what `1080p` means
in the recipe.
"""

from __future__ import annotations

import math
import os
import stat
from typing import Any

import attrs

from ...core import codes, limits
from ...core import signatures as sig
from ...core.diagnostics import RecipeError, Related, Span, suggestion
from ...core.model import ParamValue
from ...core.values import KIND_NAMES, kind_of
from .. import ast
from ..parser import parse_value
from .coerce import fits_kind
from .state import FAIL, State
from .text import describe


def read_params(st: State, statements: list) -> None:
    """Every param's value: default, then params file, then `--set`; unknown overrides are errors."""
    from_file = _read_params_file(st)
    for stmt in statements:
        if isinstance(stmt, ast.ForLoop):
            for inner in stmt.body:
                if isinstance(inner, ast.Param):
                    st.error(inner.span, "`param` inside a `for` loop", codes.PARAM_IN_LOOP, help="declare params at the top level")
        if not isinstance(stmt, ast.Param):
            continue
        name = stmt.name.name
        if name in st.param_decls:
            first = st.param_decls[name]
            st.error(stmt.name.span, f"duplicate param `{name}`", codes.DUPLICATE_PARAM,
                     related=(Related(first.name.span, "first declared here"),))
            continue
        st.param_decls[name] = stmt
        declared = stmt.type.name if stmt.type else None
        if declared is not None and declared not in sig.PARAM_TYPES:
            st.error(stmt.type.span, f"unknown param type `{declared}`", codes.UNKNOWN_PARAM_TYPE,
                     help=suggestion(declared, sig.PARAM_TYPES) or "types: " + ", ".join(sig.PARAM_TYPES))
            continue
        value = FAIL
        if stmt.default is not None:
            value = _param_literal(st, stmt.default, declared, name)
            if value is FAIL:
                continue
        ptype = declared or (kind_of(value) if value is not FAIL else "string")
        if isinstance(value, (int, float)) and not isinstance(value, bool) and declared is None:
            ptype = "number"
        origin = "default"
        if name in from_file:
            fvalue, fspan, fname = from_file.pop(name)
            value = _override(st, fvalue, ptype, name, fspan)
            origin = fname
        if name in st.overrides:
            span = _set_span(st, name)
            value = _override(st, st.overrides[name], ptype, name, span)
            origin = "--set"
        if value is FAIL:
            if origin == "default" and stmt.default is None:
                st.error(stmt.name.span, f"param `{name}` has no value", codes.PARAM_WITHOUT_VALUE,
                         help=f"give it a default (`param {name} = …`) or pass `--set {name}=…`")
            continue
        st.params[name] = ParamValue(name, ptype, value, origin, stmt.span)
    for name in st.overrides:
        if name not in st.param_decls:
            st.error(_set_span(st, name), f"no param `{name}` in this recipe", codes.NO_SUCH_PARAM,
                     help=suggestion(name, st.param_decls) or "declare it with `param NAME = default`")
    for name, (_, span, _) in from_file.items():
        st.error(span, f"no param `{name}` in this recipe", codes.NO_SUCH_PARAM,
                 help=suggestion(name, st.param_decls) or "declare it with `param NAME = default`")


def _set_span(st: State, name: str) -> Span:
    """A `--set` has no place in a recipe: it is shown as a one-line source of its own."""
    text = f"{name}={st.overrides[name]}"
    file = f"--set {name}"
    st.sources.add(file, text)
    return Span(file, 1, 1, 1, len(text) + 1)


def _read_params_file(st: State) -> dict[str, tuple[Any, Span, str]]:
    if st.params_file is None:
        return {}
    path = st.params_file
    file = str(path)
    span = Span.point(file, 1, 1)
    raw = _params_bytes(st, path, span)
    if raw is None:
        return {}
    try:
        if path.suffix == ".json":
            import json

            data = json.loads(raw)
        else:
            import tomllib

            data = tomllib.loads(raw.decode("utf-8"))
    except RecursionError:
        _too_deep(st, span, file)
        return {}
    except Exception as exc:
        st.error(span, f"params file {file} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}", codes.PARAMS_FILE_INVALID,
                 help="a params file maps names to values, e.g. `size = \"1080p\"`")
        return {}
    if not isinstance(data, dict):
        st.error(span, f"params file {file} must hold a table of name = value", codes.PARAMS_FILE_NOT_TABLE)
        return {}
    out = {}
    for k, v in data.items():
        if _within_limits(st, v, span, file, str(k)):
            out[str(k)] = (v, span, file)
    return out


def _params_bytes(st: State, path, span: Span) -> bytes | None:
    """The file's bytes, read only from a regular file or a pipe (`--params <(…)`) and only up to the size limit:
    `--params /dev/zero` read without end."""
    file = str(path)
    most = limits.PARAMS_FILE_BYTES.value()
    try:
        mode = os.stat(path).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            what = "a directory" if stat.S_ISDIR(mode) else "a device, socket or other special file"
            st.error(span, f"cannot read params file {file}: {file} is not a regular file ({what})", codes.PARAMS_FILE_UNREADABLE,
                     help="--params takes a TOML or JSON file of name = value")
            return None
        with open(path, "rb") as fh:
            raw = fh.read(most + 1)
    except OSError as exc:
        st.error(span, f"cannot read params file {file}: {exc.strerror}", codes.PARAMS_FILE_UNREADABLE)
        return None
    if len(raw) > most:
        st.error(span, f"params file {file} is larger than {most / 1e6:g} MB; a params file holds a few values",
                 codes.PARAMS_FILE_TOO_LARGE, help=f"check that this is the file you meant; {limits.PARAMS_FILE_BYTES.how_to_raise()}")
        return None
    return raw


def _too_deep(st: State, span: Span, file: str) -> None:
    st.error(span, f"params file {file} nests lists more than {limits.NESTING.value()} levels deep", codes.NESTING_TOO_DEEP,
             help=limits.NESTING.how_to_raise())


def _within_limits(st: State, value: Any, span: Span, file: str, name: str, depth: int = 0) -> bool:
    """A params-file value holds only what a recipe literal could: finite numbers of sane size, strings without NUL
    or of sane length, lists nested no deeper than the recipe's own limit (checked here, before any code recurses)."""
    if depth > limits.NESTING.value():
        _too_deep(st, span, file)
        return False
    if isinstance(value, bool):
        return True
    if isinstance(value, (int, float)):
        most = 10 ** limits.NUMBER_DIGITS.value()
        if (isinstance(value, float) and not math.isfinite(value)) or abs(value) >= most:
            st.error(span, f"param `{name}` in {file} is too large or not a number: a number is below {most:,}",
                     codes.NUMBER_TOO_LARGE, help=limits.NUMBER_DIGITS.how_to_raise())
            return False
        return True
    if isinstance(value, str):
        if "\0" in value:
            st.error(span, f"param `{name}` in {file} holds a NUL character (U+0000)", codes.NUL_IN_STRING,
                     help="no file name, title or FFmpeg argument can contain it; remove it")
            return False
        if len(value) > limits.STRING_CHARS.value():
            st.error(span, f"param `{name}` in {file} is {len(value):,} characters long; a string holds at most "
                     f"{limits.STRING_CHARS.value():,}", codes.STRING_TOO_LONG, help=limits.STRING_CHARS.how_to_raise())
            return False
        return True
    if isinstance(value, list):
        return all(_within_limits(st, v, span, file, name, depth + 1) for v in value)
    if isinstance(value, dict):
        return all(_within_limits(st, v, span, file, name, depth + 1) for v in value.values())
    return True


def _override(st: State, raw: Any, ptype: str, name: str, span: Span):
    """A params-file or `--set` value read as a param of type `ptype`."""
    if isinstance(raw, bool):
        return raw if ptype == "bool" else _param_type_error(st, span, name, ptype, "a boolean")
    if isinstance(raw, (int, float)):
        if ptype in ("number", "int") and (ptype != "int" or float(raw).is_integer()):
            return raw
        raw = str(raw)
    if isinstance(raw, list):
        if ptype != "list":
            return _param_type_error(st, span, name, ptype, "a list")
        return tuple(raw)
    if not isinstance(raw, str):
        return _param_type_error(st, span, name, ptype, type(raw).__name__)
    if ptype in ("string", "path") and not raw.startswith('"'):
        return raw
    try:
        item = parse_value(raw, span.file)
    except RecipeError as err:
        if ptype not in ("string", "path") and err.diagnostics[0].code != codes.NOT_A_VALUE.id:
            st.diags.extend(attrs.evolve(d, span=span) for d in err.diagnostics)  # a limit: it says more than "not valid"
            return FAIL
        if ptype in ("string", "path"):
            return raw
        st.error(span, f"`{raw}` is not a valid value for param `{name}`", codes.PARAM_TYPE_MISMATCH,
                 help=f"`{name}` is {KIND_NAMES.get(ptype, ptype)}")
        return FAIL
    if isinstance(item, ast.Word):
        if ptype in ("string", "path"):
            return raw
        st.error(span, f"`{raw}` is not a valid value for param `{name}`", codes.PARAM_TYPE_MISMATCH,
                 help=f"`{name}` is {KIND_NAMES.get(ptype, ptype)}")
        return FAIL
    item = attrs.evolve(item, span=span) if not isinstance(item, ast.ListLit) else item
    return _param_literal(st, item, ptype, name)


def _param_type_error(st: State, span: Span, name: str, ptype: str, got: str):
    st.error(span, f"param `{name}` is {KIND_NAMES.get(ptype, ptype)}, got {got}", codes.PARAM_TYPE_MISMATCH)
    return FAIL


def _param_literal(st: State, item, ptype: str | None, name: str):
    """A param's default or override: a literal of the declared type."""
    if isinstance(item, ast.Var):
        st.error(item.span, "a param's value cannot refer to another param", codes.PARAM_NOT_LITERAL,
                 help="write the value itself")
        return FAIL
    if isinstance(item, ast.StringLit):
        if not item.is_plain:
            st.error(item.span, "a param's value cannot use `${…}`", codes.PARAM_NOT_LITERAL)
            return FAIL
        value: Any = item.value
    elif isinstance(item, ast.ListLit):
        values = [_param_literal(st, v, None, name) for v in item.items]
        if FAIL in values:
            return FAIL
        value = tuple(values)
    else:
        if item.value is None:
            return FAIL  # already reported by the parser
        value = item.value
    if ptype is None:
        return value
    if fits_kind(value, ptype):
        return value
    st.error(item.span, f"param `{name}` is {KIND_NAMES.get(ptype, ptype)}, got {describe(value)}", codes.PARAM_TYPE_MISMATCH,
             help=f"change the value, or the type in `param {name}: {ptype}`")
    return FAIL
