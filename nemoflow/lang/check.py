"""Syntax tree → checked Recipe: includes, params, fan-out, names, types, units.

The checker collects every problem it can find before giving up, so a user
fixes a recipe in one round trip. Fan-out is expanded here, at compile time:
`for clip in glob("footage/*.mp4")` becomes one step per file, with stable
names such as `export.final[clip_a]`, so the DAG is static and plannable.
"""

from __future__ import annotations

import glob as globlib
import math
import os
from pathlib import Path
from typing import Any

import attrs

from ..core import codes, engines
from ..core import signatures as sig
from ..core.diagnostics import Diagnostic, RecipeError, Related, Sources, Span, did_you_mean, sort_key, suggestion
from ..core.model import (
    AskSpec,
    Check,
    CheckOp,
    EditSpec,
    ExpectSpec,
    ExportSettings,
    ExportSpec,
    MediaSource,
    MediaSpec,
    Op,
    ParamValue,
    Recipe,
    Step,
    StepRef,
)
from ..core.values import KIND_NAMES, NAMED_COLORS, Decibels, Duration, Factor, Fps, Percent, Pixels, Resolution, kind_of
from . import ast
from .literals import Interpolation
from .parser import parse_module, parse_value, read_source

MAX_FANOUT = 10_000
_FAIL = object()
_CLIP_VERBS = ("video", "image", "concat")
_FRAME_PRESETS = {"vertical": Resolution(1080, 1920), "square": Resolution(1080, 1080), "landscape": Resolution(1920, 1080)}


@attrs.frozen
class Binding:
    """A loop variable's value in one iteration."""

    name: str
    kind: str  # "media" (a glob item) or "value"
    value: Any
    key: str
    span: Span
    media_id: str | None = None


@attrs.define
class Instance:
    """One declared step before resolution (a fanned-out block has one per item)."""

    kind: str
    name: str
    index: tuple[str, ...]
    stmt: Any
    env: dict[str, Binding]
    loops: tuple[int, ...]
    base_dir: Path
    span: Span
    path: Path | None = None  # glob media

    @property
    def id(self) -> str:
        return f"{self.kind}.{self.name}" + "".join(f"[{k}]" for k in self.index)


def check_file(
    path: Path,
    overrides: dict[str, str] | None = None,
    params_file: Path | None = None,
    display: str | None = None,
) -> Recipe:
    """Read, parse and check a recipe file and its includes; raise RecipeError on any error."""
    checker = Checker(overrides or {}, params_file)
    return checker.run(path, display or str(path))


def check_source(text: str, file: str = "recipe.nemo", base_dir: Path | None = None,
                 overrides: dict[str, str] | None = None) -> Recipe:
    """Check recipe text that is not on disk (tests, editors)."""
    checker = Checker(overrides or {}, None)
    return checker.run_text(text, file, base_dir or Path.cwd())


class Checker:
    def __init__(self, overrides: dict[str, str], params_file: Path | None) -> None:
        self.overrides = overrides
        self.params_file = params_file
        self.diags: list[Diagnostic] = []
        self.sources = Sources()
        self.files: list[Path] = []
        self.dirs: dict[str, Path] = {}
        self.params: dict[str, ParamValue] = {}
        self.param_decls: dict[str, ast.Param] = {}
        self.used_params: set[str] = set()
        self.decls: dict[str, list[Instance]] = {}
        self.decl_first: dict[str, tuple[int, Span]] = {}
        self.expects: list[Instance] = []
        self.glob_media: dict[str, Instance] = {}
        self.steps: dict[str, Step] = {}
        self.used: set[str] = set()
        self.order: dict[str, int] = {}  # step id -> declaration order
        self.loop_vars: list[ast.Ident] = []

    def _seq(self, inst: Instance) -> None:
        self.order.setdefault(inst.id, len(self.order))

    # ---- entry points -------------------------------------------------------

    def run(self, path: Path, display: str) -> Recipe:
        text = read_source(path, display)
        self.files.append(path.resolve())
        return self.run_text(text, display, path.resolve().parent)

    def run_text(self, text: str, file: str, base_dir: Path) -> Recipe:
        self.sources.add(file, text)
        self.dirs[file] = base_dir
        try:
            root = parse_module(text, file)
        except RecipeError as err:
            raise RecipeError(err.diagnostics, self._merge(err.sources)) from None
        statements = self._load_includes(root, [file], {file})
        engine = self._engine(statements)
        self._params(statements)
        for stmt in statements:
            if not isinstance(stmt, ast.Include):
                self._declare(stmt, (), {}, (), self.dirs[stmt.span.file])
        for var in self.loop_vars:
            if var.name in self.decls:
                first = self.decls[var.name][0]
                self.error(var.span, f"loop variable `{var.name}` hides the step `{var.name}`", codes.LOOP_VARIABLE_HIDES_STEP,
                           help="rename the loop variable", related=(Related(first.stmt.name.span, "the step is declared here"),))
        # Media first: edits check in/out points against generated sources' lengths.
        instances = [i for insts in self.decls.values() for i in insts]
        for inst in sorted(instances, key=lambda i: i.kind != "media"):
            self._resolve(inst)
        for inst in self.expects:
            self._resolve(inst)
        for inst in self.glob_media.values():
            self._resolve(inst)
        self._cycles()
        self._export_paths()
        self._unused(statements)
        self.diags = list(dict.fromkeys(self.diags))  # one report per place, not one per loop item
        errors = [d for d in self.diags if d.is_error]
        if errors:
            # Warnings ("never used") are mostly echoes of the errors; show them once the errors are fixed.
            raise RecipeError(sorted(errors, key=sort_key), self.sources)
        ordered = self._source_order()
        return Recipe(
            path=(base_dir / Path(file).name),
            steps=ordered,
            params=self.params,
            files=tuple(self.files),
            sources=self.sources,
            warnings=tuple(sorted(self.diags, key=sort_key)),
            engine=engine.name.name if engine is not None else None,
            engine_span=engine.span if engine is not None else None,
        )

    def _merge(self, other: Sources) -> Sources:
        for name, lines in other._text.items():
            if self.sources.line(name, 1) is None:
                self.sources._text[name] = lines
        return self.sources

    def error(self, span: Span, message: str, code: codes.Code, help: str | None = None,
              expected: tuple[str, ...] = (), related: tuple[Related, ...] = ()) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "error", expected, help, related))

    def warn(self, span: Span, message: str, code: codes.Code, help: str | None = None) -> None:
        self.diags.append(Diagnostic(span, message, code.id, "warning", (), help))

    # ---- includes ---------------------------------------------------------------

    def _load_includes(self, module: ast.Module, stack: list[str], seen: set[str]) -> list:
        out: list = []
        here = self.dirs[module.file]
        for stmt in module.statements:
            self._top_level_only(stmt)
            if not isinstance(stmt, ast.Include):
                out.append(stmt)
                continue
            if not stmt.path.is_plain:
                self.error(stmt.path.span, "an include path cannot use `${…}`", codes.INCLUDE_INTERPOLATED,
                           help="includes are read before params are known; write the path literally")
                continue
            target = (here / stmt.path.value).resolve()
            display = os.path.normpath(os.path.join(os.path.dirname(module.file), stmt.path.value))
            if display in stack or str(target) in {str((self.dirs[s] / Path(s).name).resolve()) for s in stack}:
                chain = " → ".join([*stack[stack.index(display):], display]) if display in stack else " → ".join([*stack, display])
                self.error(stmt.path.span, f"include cycle: {chain}", codes.INCLUDE_CYCLE,
                           help="a file cannot include itself, directly or through other files; remove one include")
                continue
            if display in seen:
                continue  # each file is included once (diamond includes are fine)
            if not target.is_file():
                hint = _similar_file(target)
                self.error(stmt.path.span, f"included file not found: {stmt.path.value}", codes.INCLUDE_NOT_FOUND,
                           help=f"did you mean `{_sibling(stmt.path.value, hint)}`?" if hint
                           else "include paths are relative to the including file's folder")
                continue
            seen.add(display)
            try:
                text = read_source(target, display)
                self.sources.add(display, text)
                self.dirs[display] = target.parent
                sub = parse_module(text, display)
            except RecipeError as err:
                self._merge(err.sources)
                self.diags.extend(err.diagnostics)
                continue
            self.files.append(target)
            out.extend(self._load_includes(sub, [*stack, display], seen))
        return out

    def _top_level_only(self, stmt) -> None:
        if isinstance(stmt, ast.ForLoop):
            for inner in stmt.body:
                if isinstance(inner, ast.Include):
                    self.error(inner.span, "`include` inside a `for` loop", codes.INCLUDE_IN_LOOP,
                               help="move the include to the top level of the file")
                elif isinstance(inner, ast.Engine):
                    self.error(inner.span, "`engine` inside a `for` loop", codes.ENGINE_IN_LOOP,
                               help="a recipe runs on one engine: move `engine` to the top level of the file")
                self._top_level_only(inner)

    # ---- engine -------------------------------------------------------------------

    def _engine(self, statements: list) -> ast.Engine | None:
        """The recipe's one top-level `engine` statement (included files count), if any."""
        found: ast.Engine | None = None
        for stmt in statements:
            if not isinstance(stmt, ast.Engine):
                continue
            if found is not None:
                self.error(stmt.span, "a second `engine` statement", codes.SECOND_ENGINE,
                           help="a recipe runs on one engine (statements in included files count too): remove one of them",
                           related=(Related(found.span, "first `engine` statement here"),))
                continue
            found = stmt
            name = stmt.name.name
            if name not in engines.names():
                hint = suggestion(name, engines.names())
                self.error(stmt.name.span, f"unknown engine `{name}`", codes.UNKNOWN_ENGINE,
                           help=(f"{hint} " if hint else "") + f"the engines are {engines.described()}")
        return found

    # ---- params -------------------------------------------------------------------

    def _params(self, statements: list) -> None:
        from_file = self._read_params_file()
        for stmt in statements:
            if isinstance(stmt, ast.ForLoop):
                for inner in stmt.body:
                    if isinstance(inner, ast.Param):
                        self.error(inner.span, "`param` inside a `for` loop", codes.PARAM_IN_LOOP, help="declare params at the top level")
            if not isinstance(stmt, ast.Param):
                continue
            name = stmt.name.name
            if name in self.param_decls:
                first = self.param_decls[name]
                self.error(stmt.name.span, f"duplicate param `{name}`", codes.DUPLICATE_PARAM,
                           related=(Related(first.name.span, "first declared here"),))
                continue
            self.param_decls[name] = stmt
            declared = stmt.type.name if stmt.type else None
            if declared is not None and declared not in sig.PARAM_TYPES:
                self.error(stmt.type.span, f"unknown param type `{declared}`", codes.UNKNOWN_PARAM_TYPE,
                           help=suggestion(declared, sig.PARAM_TYPES) or "types: " + ", ".join(sig.PARAM_TYPES))
                continue
            value = _FAIL
            if stmt.default is not None:
                value = self._param_literal(stmt.default, declared, name)
                if value is _FAIL:
                    continue
            ptype = declared or (kind_of(value) if value is not _FAIL else "string")
            if isinstance(value, (int, float)) and not isinstance(value, bool) and declared is None:
                ptype = "number"
            origin = "default"
            if name in from_file:
                fvalue, fspan, fname = from_file.pop(name)
                value = self._override(fvalue, ptype, name, fspan)
                origin = fname
            if name in self.overrides:
                span = self._set_span(name)
                value = self._override(self.overrides[name], ptype, name, span)
                origin = "--set"
            if value is _FAIL:
                if origin == "default" and stmt.default is None:
                    self.error(stmt.name.span, f"param `{name}` has no value", codes.PARAM_WITHOUT_VALUE,
                               help=f"give it a default (`param {name} = …`) or pass `--set {name}=…`")
                continue
            self.params[name] = ParamValue(name, ptype, value, origin, stmt.span)
        for name in self.overrides:
            if name not in self.param_decls:
                self.error(self._set_span(name), f"no param `{name}` in this recipe", codes.NO_SUCH_PARAM,
                           help=suggestion(name, self.param_decls) or "declare it with `param NAME = default`")
        for name, (_, span, _) in from_file.items():
            self.error(span, f"no param `{name}` in this recipe", codes.NO_SUCH_PARAM,
                       help=suggestion(name, self.param_decls) or "declare it with `param NAME = default`")

    def _set_span(self, name: str) -> Span:
        text = f"{name}={self.overrides[name]}"
        file = f"--set {name}"
        self.sources.add(file, text)
        return Span(file, 1, 1, 1, len(text) + 1)

    def _read_params_file(self) -> dict[str, tuple[Any, Span, str]]:
        if self.params_file is None:
            return {}
        path = self.params_file
        file = str(path)
        span = Span.point(file, 1, 1)
        try:
            raw = path.read_bytes()
        except OSError as exc:
            self.error(span, f"cannot read params file {file}: {exc.strerror}", codes.PARAMS_FILE_UNREADABLE)
            return {}
        try:
            if path.suffix == ".json":
                import json

                data = json.loads(raw)
            else:
                import tomllib

                data = tomllib.loads(raw.decode("utf-8"))
        except Exception as exc:
            self.error(span, f"params file {file} is not valid {'JSON' if path.suffix == '.json' else 'TOML'}: {exc}", codes.PARAMS_FILE_INVALID,
                       help="a params file maps names to values, e.g. `size = \"1080p\"`")
            return {}
        if not isinstance(data, dict):
            self.error(span, f"params file {file} must hold a table of name = value", codes.PARAMS_FILE_NOT_TABLE)
            return {}
        return {str(k): (v, span, file) for k, v in data.items()}

    def _override(self, raw: Any, ptype: str, name: str, span: Span):
        if isinstance(raw, bool):
            return raw if ptype == "bool" else self._param_type_error(span, name, ptype, "a boolean")
        if isinstance(raw, (int, float)):
            if ptype in ("number", "int") and (ptype != "int" or float(raw).is_integer()):
                return raw
            raw = str(raw)
        if isinstance(raw, list):
            if ptype != "list":
                return self._param_type_error(span, name, ptype, "a list")
            return tuple(raw)
        if not isinstance(raw, str):
            return self._param_type_error(span, name, ptype, type(raw).__name__)
        if ptype in ("string", "path") and not raw.startswith('"'):
            return raw
        try:
            item = parse_value(raw, span.file)
        except RecipeError:
            if ptype in ("string", "path"):
                return raw
            self.error(span, f"`{raw}` is not a valid value for param `{name}`", codes.PARAM_TYPE_MISMATCH,
                       help=f"`{name}` is {KIND_NAMES.get(ptype, ptype)}")
            return _FAIL
        if isinstance(item, ast.Word):
            if ptype in ("string", "path"):
                return raw
            self.error(span, f"`{raw}` is not a valid value for param `{name}`", codes.PARAM_TYPE_MISMATCH,
                       help=f"`{name}` is {KIND_NAMES.get(ptype, ptype)}")
            return _FAIL
        item = attrs.evolve(item, span=span) if not isinstance(item, ast.ListLit) else item
        return self._param_literal(item, ptype, name)

    def _param_type_error(self, span: Span, name: str, ptype: str, got: str):
        self.error(span, f"param `{name}` is {KIND_NAMES.get(ptype, ptype)}, got {got}", codes.PARAM_TYPE_MISMATCH)
        return _FAIL

    def _param_literal(self, item, ptype: str | None, name: str):
        """A param's default or override: a literal of the declared type."""
        if isinstance(item, ast.Var):
            self.error(item.span, "a param's value cannot refer to another param", codes.PARAM_NOT_LITERAL,
                       help="write the value itself")
            return _FAIL
        if isinstance(item, ast.StringLit):
            if not item.is_plain:
                self.error(item.span, "a param's value cannot use `${…}`", codes.PARAM_NOT_LITERAL)
                return _FAIL
            value: Any = item.value
        elif isinstance(item, ast.ListLit):
            values = [self._param_literal(v, None, name) for v in item.items]
            if _FAIL in values:
                return _FAIL
            value = tuple(values)
        else:
            if item.value is None:
                return _FAIL  # already reported by the parser
            value = item.value
        if ptype is None:
            return value
        if _fits_kind(value, ptype):
            return value
        self.error(item.span, f"param `{name}` is {KIND_NAMES.get(ptype, ptype)}, got {_describe(value)}", codes.PARAM_TYPE_MISMATCH,
                   help=f"change the value, or the type in `param {name}: {ptype}`")
        return _FAIL

    # ---- declaration and fan-out -------------------------------------------------------

    def _declare(self, stmt, index: tuple[str, ...], env: dict[str, Binding], loops: tuple[int, ...], base_dir: Path) -> None:
        if isinstance(stmt, (ast.Param, ast.Include, ast.Engine)):
            return
        if isinstance(stmt, ast.ForLoop):
            self._declare_loop(stmt, index, env, loops, base_dir)
            return
        if isinstance(stmt, ast.Expect):
            inst = Instance("expect", stmt.target.name, index, stmt, env, loops, base_dir, stmt.span)
            self.expects.append(inst)
            self._seq(inst)
            return
        kind = type(stmt).__name__.lower()
        name = stmt.name.name
        if name in env:
            self.error(stmt.name.span, f"`{name}` is already the loop variable here", codes.NAME_IS_LOOP_VARIABLE,
                       help="give the step another name",
                       related=(Related(env[name].span, "loop variable declared here"),))
            return
        first = self.decl_first.get(name)
        if first is not None and first[0] != id(stmt):
            self.error(stmt.name.span, f"duplicate name `{name}`", codes.DUPLICATE_NAME,
                       help="every media, edit, ask and export needs its own name",
                       related=(Related(first[1], "first declared here"),))
            return
        self.decl_first.setdefault(name, (id(stmt), stmt.name.span))
        inst = Instance(kind, name, index, stmt, env, loops, base_dir, stmt.span)
        self.decls.setdefault(name, []).append(inst)
        self._seq(inst)

    def _declare_loop(self, loop: ast.ForLoop, index, env, loops, base_dir) -> None:
        var = loop.var.name
        if var in self.param_decls:
            self.error(loop.var.span, f"loop variable `{var}` hides the param `{var}`", codes.LOOP_VARIABLE_HIDES_PARAM,
                       help="rename the loop variable")
            return
        if not any(v is loop.var for v in self.loop_vars):
            self.loop_vars.append(loop.var)
        items = self._iterate(loop, env, base_dir)
        if items is None:
            return
        keys_seen: dict[str, Span] = {}
        for key, binding in items:
            if key in keys_seen:
                self.error(loop.iterable.span, f"two items of this loop have the same name `{key}`", codes.DUPLICATE_LOOP_KEY,
                           help="step names are made from each item; make the items distinct")
                return
            keys_seen[key] = binding.span
        for key, binding in items:
            sub_index = (*index, key)
            sub_env = {**env, var: binding}
            if binding.kind == "media":
                inst = Instance("media", var, sub_index, loop, sub_env, (*loops, id(loop)), base_dir, loop.var.span,
                                path=binding.value)
                existing = self.glob_media.get(inst.id)
                if existing is not None and existing.path != inst.path:
                    self.error(loop.var.span, f"`{inst.id}` names two different files", codes.GLOB_NAME_CLASH,
                               help="use a different loop variable name in one of the loops")
                    return
                self.glob_media[inst.id] = inst
                self._seq(inst)
                sub_env[var] = attrs.evolve(binding, media_id=inst.id)
            for stmt in loop.body:
                self._declare(stmt, sub_index, sub_env, (*loops, id(loop)), base_dir)

    def _iterate(self, loop: ast.ForLoop, env, base_dir) -> list[tuple[str, Binding]] | None:
        var = loop.var.name
        it = loop.iterable
        if isinstance(it, ast.Glob):
            pattern = self._string(it.pattern, env)
            if pattern is None:
                return None
            root = Path(pattern) if os.path.isabs(pattern) else base_dir / pattern
            matches = sorted(p for p in globlib.glob(str(root), recursive=True) if os.path.isfile(p))
            if not matches:
                self.error(it.pattern.span, f"glob(\"{pattern}\") matched no files", codes.GLOB_NO_MATCH,
                           help=f"looked in {root.parent}; check the pattern, or add the files")
                return None
            if len(matches) > MAX_FANOUT:
                self.error(it.span, f"glob matched {len(matches)} files; at most {MAX_FANOUT} per loop", codes.FANOUT_TOO_LARGE)
                return None
            paths = [Path(m).resolve() for m in matches]
            stems = [p.stem for p in paths]
            if len(set(stems)) == len(stems):
                keys = stems
            else:
                keys = [os.path.splitext(os.path.relpath(m, root.parent if "**" not in pattern else base_dir))[0].replace(os.sep, "/")
                        for m in matches]
            return [(k, Binding(var, "media", p, k, loop.var.span)) for k, p in zip(keys, paths, strict=True)]
        if isinstance(it, ast.Var):
            param = self._param(it, env)
            if param is _FAIL:
                return None
            if not isinstance(param, tuple):
                self.error(it.span, f"`${it.name}` is {_describe(param)}, not a list", codes.LOOP_OVER_NON_LIST,
                           help="loop over a list like `[\"a\", \"b\"]` or `glob(\"*.mp4\")`")
                return None
            values = list(param)
            spans = [it.span] * len(values)
            texts = [None] * len(values)
        else:
            values, spans, texts = [], [], []
            for item in it.items:
                v = self._value(item, env)
                if v is _FAIL:
                    return None
                values.append(v)
                spans.append(item.span)
                texts.append(item.text if isinstance(item, ast.Literal) else None)
        if not values:
            self.warn(it.span, "this loop has nothing to loop over", codes.EMPTY_LOOP)
            return []
        if len(values) > MAX_FANOUT:
            self.error(it.span, f"this loop has {len(values)} items; at most {MAX_FANOUT}", codes.FANOUT_TOO_LARGE)
            return None
        out = []
        for v, span, text in zip(values, spans, texts, strict=True):
            key = text or (v if isinstance(v, str) else (str(v).lower() if isinstance(v, bool) else str(v)))
            if not key or any(c in key for c in "[]\n"):
                self.error(span, f"`{key}` cannot name a step", codes.BAD_LOOP_KEY,
                           help="loop items become parts of step names: use text without brackets or newlines")
                return None
            out.append((key, Binding(var, "value", v, key, span)))
        return out

    # ---- values ----------------------------------------------------------------------------

    def _param(self, var: ast.Var, env):
        binding = env.get(var.name)
        if binding is not None:
            if binding.kind == "media":
                return str(binding.value)
            return binding.value
        if var.name in self.params:
            self.used_params.add(var.name)
            return self.params[var.name].value
        if var.name in self.param_decls:
            self.used_params.add(var.name)
            return _FAIL  # declared but invalid: already reported
        names = [*self.param_decls, *env]
        self.error(var.span, f"unknown param `${var.name}`", codes.UNKNOWN_PARAM,
                   help=(suggestion(var.name, names) and f"did you mean `${did_you_mean(var.name, names)}`?")
                   or "declare it with `param NAME = default`")
        return _FAIL

    def _string(self, lit: ast.StringLit, env) -> str | None:
        out = []
        for part in lit.parts:
            if isinstance(part, str):
                out.append(part)
                continue
            value = self._interpolate(part, lit, env)
            if value is None:
                return None
            out.append(value)
        return "".join(out)

    def _interpolate(self, part: Interpolation, lit: ast.StringLit, env) -> str | None:
        span = Span(lit.span.file, lit.span.line, lit.span.column + part.offset, lit.span.line,
                    lit.span.column + part.offset + part.length) if lit.span.line == lit.span.end_line else lit.span
        binding = env.get(part.name)
        if binding is not None:
            value: Any = binding.value
        elif part.name in self.params:
            self.used_params.add(part.name)
            value = self.params[part.name].value
        elif part.name in self.param_decls:
            self.used_params.add(part.name)
            return None
        else:
            names = [*self.param_decls, *env]
            best = did_you_mean(part.name, names)
            self.error(span, f"unknown name `{part.name}` in `${{…}}`", codes.UNKNOWN_INTERPOLATION,
                       help=f"did you mean `${{{best}}}`?" if best else "`${…}` takes a param or a loop variable")
            return None
        if part.attr is None:
            if binding is not None and binding.kind == "media":
                return binding.key
            return str(value) if not isinstance(value, bool) else str(value).lower()
        attrs_map = {"stem": lambda p: p.stem, "name": lambda p: p.name, "ext": lambda p: p.suffix.lstrip("."),
                     "dir": lambda p: str(p.parent), "path": str}
        if part.attr not in attrs_map:
            self.error(span, f"unknown field `.{part.attr}`", codes.UNKNOWN_FIELD,
                       help=suggestion(part.attr, attrs_map) or "fields: .stem .name .ext .dir .path")
            return None
        return attrs_map[part.attr](Path(str(value)))

    def _value(self, item, env):
        """A plain value (no type expected): used in loops."""
        if isinstance(item, ast.StringLit):
            s = self._string(item, env)
            return _FAIL if s is None else s
        if isinstance(item, ast.Var):
            return self._param(item, env)
        if isinstance(item, ast.ListLit):
            vals = [self._value(v, env) for v in item.items]
            return _FAIL if _FAIL in vals else tuple(vals)
        if isinstance(item, ast.Word):
            self.error(item.span, f"`{item.name}` is a bare name here", codes.BARE_NAME_IN_LOOP, help=f'quote it: `"{item.name}"`')
            return _FAIL
        return _FAIL if item.value is None else item.value

    def _coerce(self, item, spec, inst: Instance, slot: sig.Slot, what: str):
        """Read an item as a value of slot type `spec`, reporting why it does not fit."""
        if isinstance(spec, tuple):
            return self._enum(item, spec, inst, what)
        if spec in ("media", "draft", "source"):
            return self._reference(item, spec, inst, what, slot.many)
        if spec == "look":
            return self._look(item, inst, what)
        if spec == "path":
            if isinstance(item, ast.StringLit):
                s = self._string(item, inst.env)
                return _FAIL if s is None else s
            if isinstance(item, ast.Var):
                v = self._param(item, inst.env)
                if v is _FAIL or isinstance(v, str):
                    return v
            return self._mismatch(item, "a path in quotes", what, inst)
        kinds = spec.split("|")
        if isinstance(item, ast.Word):
            if "color" in kinds and item.name in NAMED_COLORS:
                return NAMED_COLORS[item.name]
            if "frame" in kinds and item.name in _FRAME_PRESETS:
                return _FRAME_PRESETS[item.name]
            if "string" in kinds:
                self.error(item.span, f"{what} takes text in quotes", codes.TEXT_NEEDS_QUOTES, help=f'write `"{item.name}"`')
                return _FAIL
            if "color" in kinds:
                self.error(item.span, f"unknown color `{item.name}`", codes.UNKNOWN_COLOR,
                           help=suggestion(item.name, NAMED_COLORS) or "write a hex color like `#ffcc00`")
                return _FAIL
            if "frame" in kinds:
                best = did_you_mean(item.name, _FRAME_PRESETS)
                self.error(item.span, f"unknown size `{item.name}`", codes.UNKNOWN_SIZE,
                           help=f"did you mean `{best}`?" if best else "write `1080p`, `3840x2160`, `vertical` or `square`")
                return _FAIL
            return self._mismatch(item, _expected_text(kinds), what, inst)
        if isinstance(item, ast.Var):
            value = self._param(item, inst.env)
        elif isinstance(item, ast.StringLit):
            if "string" not in kinds:
                return self._mismatch(item, _expected_text(kinds), what, inst)
            s = self._string(item, inst.env)
            return _FAIL if s is None else s
        elif isinstance(item, ast.ListLit):
            return self._mismatch(item, _expected_text(kinds), what, inst)
        else:
            value = item.value
            if value is None:
                return _FAIL
        if value is _FAIL:
            return _FAIL
        for kind in kinds:
            if _fits_kind(value, kind):
                return self._bounded(value, slot, item, what)
        return self._mismatch(item, _expected_text(kinds), what, inst, value)

    def _bounded(self, value, slot: sig.Slot, item, what: str):
        if slot.min is None and slot.max is None:
            if isinstance(value, Duration) and value.seconds <= 0 and slot.name in ("duration", "for", "fade", "fade in", "fade out"):
                self.error(item.span, f"{what} must be longer than 0s", codes.NOT_POSITIVE_DURATION)
                return _FAIL
            return value
        mag = _magnitude(value, slot)
        if mag is None:
            return value
        lo, hi = slot.min, slot.max
        if (lo is not None and mag < lo) or (hi is not None and mag > hi) or (isinstance(mag, float) and math.isnan(mag)):
            unit = "x" if slot.type == "factor|percent" else ("%" if "percent" in str(slot.type) else "")
            self.error(item.span, f"{what} {value} is out of range", codes.OUT_OF_RANGE,
                       help=f"use a value from {lo:g}{unit} to {hi:g}{unit}")
            return _FAIL
        return value

    def _mismatch(self, item, expected: str, what: str, inst: Instance, value: Any = _FAIL):
        if isinstance(item, ast.Var) and value is not _FAIL:
            got = f"`${item.name}`, which is {_describe(value)}"
        else:
            got = _describe_item(item) if isinstance(item, ast.Literal) or value is _FAIL else _describe(value)
        self.error(item.span, f"{what} takes {expected}, got {got}", codes.TYPE_MISMATCH,
                   help=_unit_hint(expected, value))
        return _FAIL

    def _enum(self, item, choices: tuple[str, ...], inst: Instance, what: str):
        word = None
        if isinstance(item, ast.Word) and not item.index:
            word = item.name
        elif isinstance(item, ast.StringLit) and item.is_plain:
            word = item.value
        elif isinstance(item, ast.Var):
            v = self._param(item, inst.env)
            if v is _FAIL:
                return _FAIL
            word = v if isinstance(v, str) else None
        if word is None:
            self.error(item.span, f"{what} takes one of: {', '.join(choices)}", codes.NOT_A_CHOICE, help=None)
            return _FAIL
        if word not in choices:
            self.error(item.span, f"{what} does not take `{word}`", codes.UNKNOWN_CHOICE,
                       expected=tuple(f"`{c}`" for c in choices), help=suggestion(word, choices))
            return _FAIL
        return word

    def _look(self, item, inst: Instance, what: str):
        if isinstance(item, ast.Word) and not item.index:
            name = item.name
        elif isinstance(item, (ast.StringLit, ast.Var)):
            name = self._string(item, inst.env) if isinstance(item, ast.StringLit) else self._param(item, inst.env)
            if name is None or name is _FAIL:
                return _FAIL
            if not isinstance(name, str):
                return self._mismatch(item, "a look name or a .cube file", what, inst)
        else:
            return self._mismatch(item, "a look name or a .cube file", what, inst)
        if name.lower().endswith(".cube"):
            path = (inst.base_dir / name).resolve()
            if not path.is_file():
                self.error(item.span, f"LUT file not found: {name}", codes.LUT_NOT_FOUND, help=f"looked for {path}")
                return _FAIL
            return {"lut": path}
        if name not in sig.GRADE_PRESETS:
            self.error(item.span, f"unknown look `{name}`", codes.UNKNOWN_LOOK, expected=tuple(f"`{p}`" for p in sig.GRADE_PRESETS),
                       help=suggestion(name, sig.GRADE_PRESETS) or "or give a .cube LUT file: `grade \"looks/film.cube\"`")
            return _FAIL
        return {"preset": name}

    # ---- references -------------------------------------------------------------------------

    def _reference(self, item, want: str, inst: Instance, what: str, many: bool):
        if isinstance(item, ast.Ref):
            name, index, span = item.name, item.index, item.span
        elif isinstance(item, ast.Word):
            name, index, span = item.name, item.index, item.span
        elif isinstance(item, ast.Var):
            self.error(item.span, f"{what} takes a name, not `${item.name}`", codes.NOT_A_STEP_NAME,
                       help="declare a media for it: `media clip = $" + item.name + "`")
            return _FAIL
        else:
            self.error(item.span, f"{what} takes the name of a {_want_text(want)}, got {_describe_item(item)}", codes.NOT_A_STEP_NAME,
                       help="declare a media first: `media clip = \"footage/clip.mp4\"`, then refer to `clip`"
                       if isinstance(item, ast.StringLit) else None)
            return _FAIL
        binding = inst.env.get(name)
        if binding is not None and not index:
            if binding.kind != "media":
                self.error(span, f"`{name}` is a loop value, not a step", codes.LOOP_VALUE_NOT_STEP, help=f"write `${name}` to use its value")
                return _FAIL
            ids = [binding.media_id]
        else:
            ids = self._lookup(name, index, span, inst, many)
            if ids is None:
                return _FAIL
        kinds = {"media": ("media",), "draft": ("edit", "ask"), "source": ("media", "edit", "ask")}[want]
        for sid in ids:
            kind = sid.split(".", 1)[0]
            if kind not in kinds:
                self.error(span, f"`{name}` is {_article(kind)} {kind}; {what} takes {_want_text(want)}", codes.WRONG_STEP_KIND,
                           help="an export is a file on disk; refer to the edit it renders instead" if kind == "export" else None)
                return _FAIL
        self.used.update(ids)
        refs = tuple(StepRef(i) for i in ids)
        return refs if many else refs[0]

    def _lookup(self, name: str, index: tuple[str, ...], span: Span, inst: Instance, many: bool) -> list[str] | None:
        insts = self.decls.get(name)
        if not insts:
            pool = [*self.decls, *inst.env]
            self.error(span, f"unknown name `{name}`", codes.UNKNOWN_NAME,
                       help=suggestion(name, pool) or "declare it with `media`, `edit`, `ask` or `export`")
            return None
        if index:
            for cand in insts:
                if cand.index == index:
                    return [cand.id]
            shown = ", ".join(c.name + "".join(f"[{k}]" for k in c.index) for c in insts[:6])
            self.error(span, f"no step `{name}" + "".join(f"[{k}]" for k in index) + "`", codes.NO_SUCH_INSTANCE,
                       help=f"`{name}` has: {shown}" + (" …" if len(insts) > 6 else ""))
            return None
        first = insts[0]
        if not first.loops:
            return [first.id]
        depth = len(first.loops)
        if inst.loops[:depth] == first.loops:
            want = inst.index[:depth]
            return [c.id for c in insts if c.index == want]
        if many:
            return [c.id for c in insts]
        examples = ", ".join(c.id.split(".", 1)[1] for c in insts[:2])
        self.error(span, f"`{name}` is fanned out over {len(insts)} items", codes.FANNED_OUT_NAME,
                   help=f"refer to one of them ({examples}, …), move this into the loop, or gather them all with `concat {name}`",
                   related=(Related(first.span, "declared inside this loop"),))
        return None

    # ---- resolution per kind ---------------------------------------------------------------------

    def _resolve(self, inst: Instance) -> None:
        if inst.kind == "media" and inst.path is not None:
            self.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (),
                                       MediaSpec(MediaSource.FILE, path=inst.path))
            self._media_file_checks(inst.path, inst.span, str(inst.path))
            return
        handler = getattr(self, "_resolve_" + inst.kind)
        handler(inst)

    def _match(self, signature: sig.Signature, items, inst: Instance, clause_span: Span, what: str) -> dict | None:
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
                        self.error(item.span, f"`{item.name}` given twice", codes.GIVEN_TWICE)
                        ok = False
                    args[item.name] = True
                    i += 1
                    continue
            if keyword is not None:
                kw_span = Span(item.span.file, item.span.line, item.span.column, items[i + width - 1].span.end_line,
                               items[i + width - 1].span.end_column)
                if keyword.name in args:
                    self.error(kw_span, f"`{keyword.name}` given twice in `{verb}`", codes.GIVEN_TWICE)
                    ok = False
                value_item = items[i + width] if i + width < len(items) else None
                if value_item is None or (isinstance(value_item, ast.Word) and (
                        value_item.name in signature.words or value_item.name.split(" ")[0] in {w.split(" ")[0] for w in signature.words})
                        and not isinstance(keyword.type, tuple)):
                    end = Span(kw_span.file, kw_span.end_line, kw_span.end_column, kw_span.end_line, kw_span.end_column + 1)
                    self.error(end, f"missing value after `{keyword.name}`", codes.MISSING_KEYWORD_VALUE,
                               expected=(_expected_text(keyword.type),),
                               help=f"write e.g. `{keyword.name} {_example(keyword.type)}`")
                    ok = False
                    i += width
                    continue
                value = self._coerce(value_item, keyword.type, inst, keyword, f"`{keyword.name}`")
                if value is _FAIL:
                    ok = False
                else:
                    args[keyword.name] = value
                i += width + 1
                continue
            placed = False
            while pi < len(positional):
                slot = positional[pi]
                if slot.many:
                    value = self._coerce(item, slot.type, inst, slot, f"`{verb}`")
                    if value is _FAIL:
                        ok = False
                    else:
                        args.setdefault(slot.name, ())
                        args[slot.name] = args[slot.name] + (value if isinstance(value, tuple) else (value,))
                    placed = True
                    break
                if slot.required or self._fits(item, slot.type, inst):
                    value = self._coerce(item, slot.type, inst, slot, f"`{verb}`" if slot.required else f"`{verb}` {slot.name}")
                    if value is _FAIL:
                        ok = False
                    else:
                        args[slot.name] = value
                    pi += 1
                    placed = True
                    break
                pi += 1
            if not placed:
                ok = False
                self._unexpected(item, signature, what)
                nxt = items[i + 1] if i + 1 < len(items) else None
                if isinstance(item, ast.Word) and nxt is not None and not isinstance(nxt, ast.Word):
                    i += 1  # a misspelt keyword: its value is not a second error
            i += 1
        for slot in signature.positional:
            if slot.required and slot.name not in args and ok:
                self.error(_end_of(clause_span), f"`{verb}` needs {_slot_text(slot)}", codes.MISSING_ARGUMENT,
                           help=f"write e.g. `{verb} {_example(slot.type)}`")
                ok = False
        for slot in signature.keywords:
            if slot.required and slot.name not in args and ok:
                self.error(_end_of(clause_span), f"`{verb}` needs `{slot.name} <{_short(slot.type)}>`", codes.MISSING_ARGUMENT,
                           help=f"write e.g. `{verb} … {slot.name} {_example(slot.type)}`")
                ok = False
        if signature.at_least_one and ok and not any(s.name in args for s in signature.keywords):
            self.error(clause_span, f"`{verb}` needs at least one of: {', '.join(s.name for s in signature.keywords)}", codes.NEEDS_ONE_OF)
            ok = False
        return args if ok else None

    def _fits(self, item, spec, inst: Instance) -> bool:
        """Whether item could fill an optional positional slot (no diagnostics)."""
        if isinstance(spec, tuple):
            if isinstance(item, ast.Var):
                # A text value goes to the enum slot, which explains a value outside its choices.
                b = inst.env.get(item.name)
                p = self.params.get(item.name)
                return isinstance(b.value if b is not None else p.value if p is not None else None, str)
            return isinstance(item, ast.Word) and item.name in spec
        if spec in ("media", "draft", "source", "look", "path"):
            return isinstance(item, (ast.Word, ast.StringLit))
        kinds = spec.split("|")
        if isinstance(item, ast.Literal):
            return item.value is not None and any(_fits_kind(item.value, k) for k in kinds)
        if isinstance(item, ast.Var):
            p = self.params.get(item.name)
            b = inst.env.get(item.name)
            value = b.value if b is not None else (p.value if p is not None else None)
            return value is not None and any(_fits_kind(value, k) for k in kinds)
        if isinstance(item, ast.StringLit):
            return "string" in kinds
        if isinstance(item, ast.Word):
            return ("color" in kinds and item.name in NAMED_COLORS) or ("frame" in kinds and item.name in _FRAME_PRESETS)
        return False

    def _unexpected(self, item, signature: sig.Signature, what: str) -> None:
        verb = signature.verb
        if isinstance(item, ast.Word):
            words = signature.words
            hint = suggestion(item.name, words)
            exp = tuple(f"`{w}`" for w in words)
            self.error(item.span, f"`{item.name}` is not something `{verb}` takes", codes.UNEXPECTED_ARGUMENT, expected=exp,
                       help=hint or (f"`{verb}` takes: " + _usage(signature)))
        else:
            self.error(item.span, f"`{verb}` does not take {_describe_item(item)} here", codes.UNEXPECTED_ARGUMENT,
                       help=f"`{verb}` takes: " + _usage(signature))

    def _verb(self, clause: ast.Clause, table: dict[str, sig.Signature], what: str):
        head = clause.items[0]
        if not isinstance(head, ast.Word) or head.index:
            self.error(head.span, f"a line in {what} starts with what it does, got {_describe_item(head)}", codes.CLAUSE_NOT_A_VERB,
                       expected=tuple(f"`{v}`" for v in table))
            return None
        signature = table.get(head.name)
        if signature is None:
            self.error(head.span, f"unknown {what.split(' ')[-1]} operation `{head.name}`" if "edit" in what
                       else f"unknown {what} setting `{head.name}`" if "export" in what else f"unknown `{head.name}`",
                       codes.UNKNOWN_OPERATION, expected=tuple(f"`{v}`" for v in table), help=suggestion(head.name, table))
            return None
        return signature

    def _base(self, ref: ast.Ref, inst: Instance, what: str):
        value = self._reference(ref, "source", inst, what, many=False)
        return None if value is _FAIL else value

    def _resolve_media(self, inst: Instance) -> None:
        stmt: ast.Media = inst.stmt
        clause = stmt.source
        head = clause.items[0]
        spec = None
        if isinstance(head, (ast.StringLit, ast.Var)):
            text = self._string(head, inst.env) if isinstance(head, ast.StringLit) else self._param(head, inst.env)
            if text is None or text is _FAIL:
                return
            if not isinstance(text, str):
                self.error(head.span, f"a media source is a path or URL in quotes, got {_describe(text)}", codes.MEDIA_NOT_A_PATH)
                return
            if len(clause.items) > 1:
                self.error(clause.items[1].span, "a media file takes no options", codes.MEDIA_FILE_OPTIONS,
                           help="options such as in/out points go on the `video` line of an edit")
                return
            spec = self._media_location(text, head.span, inst)
        elif isinstance(head, ast.Word):
            signature = sig.GENERATORS.get(head.name)
            if signature is None:
                self.error(head.span, f"unknown media source `{head.name}`", codes.UNKNOWN_GENERATOR,
                           expected=("a path or URL in quotes", *(f"`{g}`" for g in sig.GENERATORS)),
                           help=suggestion(head.name, sig.GENERATORS) or 'a file is written in quotes: `media clip = "footage/clip.mp4"`')
                return
            args = self._match(signature, clause.items[1:], inst, clause.span, f"media `{stmt.name.name}`")
            if args is None:
                return
            spec = MediaSpec(MediaSource.GENERATED, generator=head.name, options=args)
        else:
            self.error(head.span, f"a media source is a path or URL in quotes, got {_describe_item(head)}", codes.MEDIA_NOT_A_PATH)
            return
        if spec is not None:
            self.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (), spec)

    def _media_location(self, text: str, span: Span, inst: Instance) -> MediaSpec | None:
        if "://" in text:
            scheme = text.split("://", 1)[0].lower()
            if scheme not in ("http", "https") or not text.split("://", 1)[1].split("/", 1)[0]:
                self.error(span, f"unsupported URL `{text}`", codes.UNSUPPORTED_URL, help="media URLs start with https:// or http://")
                return None
            return MediaSpec(MediaSource.URL, url=text)
        if not text.strip():
            self.error(span, "empty media path", codes.EMPTY_MEDIA_PATH)
            return None
        path = (inst.base_dir / os.path.expanduser(text)).resolve()
        if not self._media_file_checks(path, span, text):
            return None
        return MediaSpec(MediaSource.FILE, path=path)

    def _media_file_checks(self, path: Path, span: Span, shown: str) -> bool:
        ext = path.suffix.lower().lstrip(".")
        if ext not in sig.MEDIA_EXTENSIONS:
            self.error(span, f"unsupported media type `.{ext}`" if ext else f"media file has no extension: {shown}", codes.UNSUPPORTED_MEDIA_TYPE,
                       help="supported: " + ", ".join(sig.MEDIA_EXTENSIONS))
            return False
        if path.is_dir():
            self.error(span, f"{shown} is a directory", codes.MEDIA_IS_DIRECTORY, help="to use every file in it, loop: `for clip in glob(\"dir/*.mp4\")`")
            return False
        if not path.exists():
            hint = _similar_file(path)
            where = os.path.normpath(os.path.join(os.path.dirname(span.file), shown)) if not os.path.isabs(shown) else shown
            self.error(span, f"media file not found: {shown}", codes.MEDIA_NOT_FOUND,
                       help=f"did you mean `{_sibling(shown, hint)}`?" if hint
                       else f"looked for {where}; paths are relative to the recipe's folder")
            return False
        return True

    def _resolve_edit(self, inst: Instance) -> None:
        stmt: ast.Edit = inst.stmt
        base = self._base(stmt.base, inst, f"`edit {stmt.name.name} =`") if stmt.base is not None else None
        if stmt.base is not None and base is None:
            return
        ops: list[Op] = []
        inputs: list[str] = [base.id] if base else []
        ok = True
        clips = 0
        pending_transition: ast.Clause | None = None
        for clause in stmt.body:
            signature = self._verb(clause, sig.EDIT_OPS, "an edit")
            if signature is None:
                ok = False
                continue
            args = self._match(signature, clause.items[1:], inst, clause.span, f"edit `{stmt.name.name}`")
            if args is None:
                ok = False
                continue
            if not self._op_rules(signature.verb, args, clause, inst):
                ok = False
                continue
            if signature.verb == "transition":
                if clips == 0 and base is None:
                    self.error(clause.span, "a transition needs a clip before it", codes.TRANSITION_FIRST,
                               help="put `transition` between two `video` lines")
                    ok = False
                pending_transition = clause
            elif signature.verb in _CLIP_VERBS:
                clips += 1
                pending_transition = None
            for value in args.values():
                for ref in value if isinstance(value, tuple) else (value,):
                    if isinstance(ref, StepRef) and ref.id not in inputs:
                        inputs.append(ref.id)
            ops.append(Op(signature.verb, args, clause.span))
        if pending_transition is not None and ok:
            self.error(pending_transition.span, "nothing follows this transition", codes.TRANSITION_LAST,
                       help="add the clip it leads into after it, or remove it")
            ok = False
        if ok and clips == 0 and base is None:
            self.error(stmt.name.span, f"edit `{stmt.name.name}` has no clips", codes.EDIT_WITHOUT_CLIPS,
                       help="add `video <media>` lines, or start from another draft: `edit " + stmt.name.name + " = <draft> {`")
            ok = False
        if ok:
            self.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, tuple(inputs),
                                       EditSpec(base, tuple(ops)))

    def _op_rules(self, verb: str, args: dict, clause: ast.Clause, inst: Instance) -> bool:
        """Rules across arguments: in before out, within known source lengths."""
        start, end = args.get("from"), args.get("to")
        if "to" in args and "for" in args:
            self.error(clause.span, f"`{verb}` has both `to` and `for`", codes.TO_AND_FOR,
                       help="give the out-point (`to`) or the length (`for`), not both")
            return False
        if isinstance(start, Duration) and isinstance(end, Duration) and end.seconds <= start.seconds:
            self.error(_kw_span(clause, "to"), f"`to {end}` is not after `from {start}`", codes.OUT_BEFORE_IN,
                       help="the out-point must come after the in-point")
            return False
        source = args.get("source")
        if verb in ("video", "music", "audio") and isinstance(source, StepRef):
            length = self._known_length(source.id)
            if length is not None:
                for key in ("from", "to"):
                    val = args.get(key)
                    if isinstance(val, Duration) and val.seconds > length + 1e-9:
                        name = source.id.split(".", 1)[1]
                        self.error(_kw_span(clause, key), f"`{key} {val}` is past the end of `{name}` ({Duration(length)})",
                                   codes.POINT_PAST_END, help=f"the source is {Duration(length)} long")
                        return False
                span_for = args.get("for")
                begin = start.seconds if isinstance(start, Duration) else 0.0
                if isinstance(span_for, Duration) and begin + span_for.seconds > length + 1e-9:
                    self.error(_kw_span(clause, "for"), f"`for {span_for}` runs past the end of the source ({Duration(length)})", codes.LENGTH_PAST_END,
                               help=f"the source is {Duration(length)} long")
                    return False
        return True

    def _known_length(self, step_id: str) -> float | None:
        step = self.steps.get(step_id)
        if step is not None and isinstance(step.spec, MediaSpec) and step.spec.source == "generated":
            dur = step.spec.options.get("duration")
            return dur.seconds if isinstance(dur, Duration) else None
        return None

    def _resolve_ask(self, inst: Instance) -> None:
        stmt: ast.Ask = inst.stmt
        base = self._base(stmt.base, inst, f"`ask {stmt.name.name} =`")
        instruction = self._coerce(stmt.instruction, "string", inst, sig.Slot("instruction", "string"), "an ask")
        if base is None or instruction is _FAIL:
            return
        if not instruction.strip():
            self.error(stmt.instruction.span, "empty instruction", codes.EMPTY_INSTRUCTION, help='say what to do, e.g. "trim the shaky clips"')
            return
        spec = AskSpec(base, instruction, stmt.instruction.span)
        self.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (base.id,), spec)

    def _resolve_export(self, inst: Instance) -> None:
        stmt: ast.Export = inst.stmt
        base = self._base(stmt.base, inst, f"`export {stmt.name.name} =`")
        settings: dict[str, Any] = {}
        spans: dict[str, ast.Clause] = {}
        ok = base is not None
        for clause in stmt.body:
            signature = self._verb(clause, sig.EXPORT_SETTINGS, "an export")
            if signature is None:
                ok = False
                continue
            if signature.verb in settings or signature.verb in spans:
                self.error(clause.span, f"`{signature.verb}` given twice", codes.SETTING_TWICE,
                           related=(Related(spans[signature.verb].span, "first given here"),))
                ok = False
                continue
            spans[signature.verb] = clause
            args = self._match(signature, clause.items[1:], inst, clause.span, f"export `{stmt.name.name}`")
            if args is None:
                ok = False
                continue
            settings[signature.verb] = args["value"]
        ok = self._export_rules(settings, spans, inst) and ok
        if not ok:
            return
        save = settings.pop("save", None)
        if save is None:
            suffix = "-".join(inst.index)
            save = f"out/{inst.name}{'-' + suffix if suffix else ''}.{settings.get('format', 'mp4')}"
        path = (inst.base_dir / os.path.expanduser(save)).resolve()
        settings.setdefault("format", path.suffix.lstrip(".").lower())
        self.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (base.id,),
                                   ExportSpec(base, path, ExportSettings(**settings)))

    def _export_rules(self, settings: dict, spans: dict, inst: Instance) -> bool:
        ok = True
        save = settings.get("save")
        fmt = settings.get("format")
        if save is not None:
            span = spans["save"].items[1].span if len(spans["save"].items) > 1 else spans["save"].span
            ext = Path(save).suffix.lower().lstrip(".")
            if not save.strip() or save.endswith(("/", os.sep)):
                self.error(span, f"`save` needs a file name, got `{save}`", codes.SAVE_WITHOUT_NAME, help='write e.g. `save "out/final.mp4"`')
                return False
            if not ext:
                self.error(span, f"`save \"{save}\"` has no file extension", codes.SAVE_WITHOUT_EXTENSION,
                           help=f"write `save \"{save}.{fmt or 'mp4'}\"`")
                ok = False
            elif fmt is None and ext not in sig.FORMATS:
                self.error(span, f"cannot write a `.{ext}` file", codes.UNKNOWN_SAVE_EXTENSION, help="exports are " + ", ".join(f".{f}" for f in sig.FORMATS))
                ok = False
            elif fmt is not None and ext != fmt:
                self.error(span, f"`save` ends in .{ext} but `format` is {fmt}", codes.SAVE_FORMAT_MISMATCH,
                           help=f"make them agree: `save \"{Path(save).with_suffix('.' + fmt).as_posix()}\"`")
                ok = False
            else:
                fmt = fmt or ext
            target = (inst.base_dir / os.path.expanduser(save)).resolve()
            if target.is_dir():
                self.error(span, f"`save` points at a directory: {save}", codes.SAVE_IS_DIRECTORY, help="give a file name inside it")
                ok = False
            if ".nemoflow" in target.parts:
                self.error(span, "exports cannot be written inside .nemoflow/ (the cache)", codes.SAVE_IN_CACHE)
                ok = False
        codec = settings.get("codec")
        if codec is not None and fmt is not None and codec not in sig.FORMAT_CODECS[fmt]:
            self.error(spans["codec"].span, f"{fmt} files cannot hold {codec} video", codes.VIDEO_CODEC_CONTAINER,
                       help=f"{fmt} takes: " + ", ".join(sig.FORMAT_CODECS[fmt]))
            ok = False
        audio = settings.get("audio")
        if (audio == "opus" and fmt in ("mp4", "mov")) or (audio == "aac" and fmt == "webm"):
            self.error(spans["audio"].span, f"{fmt} files cannot hold {audio} audio", codes.AUDIO_CODEC_CONTAINER)
            ok = False
        size = settings.get("size")
        if isinstance(size, Resolution) and (size.width % 2 or size.height % 2 or size.width > 8192 or size.height > 8192):
            self.error(spans["size"].span, f"output size {size} is not encodable", codes.SIZE_NOT_ENCODABLE,
                       help="width and height must be even and at most 8192 (H.264 4:2:0)")
            ok = False
        if "crf" in settings and "bitrate" in settings:
            self.error(spans["bitrate"].span, "give `crf` or `bitrate`, not both", codes.CRF_AND_BITRATE)
            ok = False
        return ok

    def _resolve_expect(self, inst: Instance) -> None:
        stmt: ast.Expect = inst.stmt
        ids = self._expect_targets(stmt.target, inst)
        if ids is None:
            return
        checks = []
        ok = True
        for assertion in stmt.body:
            check = self._assertion(assertion, inst)
            if check is None:
                ok = False
            else:
                checks.append(check)
        if not ok:
            return
        for target in ids:
            sid = "expect." + target.split(".", 1)[1]
            if sid in self.steps:
                self.error(stmt.target.span, f"a second `expect` for `{target.split('.', 1)[1]}`", codes.SECOND_EXPECT,
                           help="put all checks of an export in one expect block",
                           related=(Related(self.steps[sid].span, "first expect here"),))
                continue
            name = target.split(".", 1)[1]
            base_name, _, rest = name.partition("[")
            index = tuple(k.rstrip("]") for k in rest.split("[")) if rest else ()
            self.steps[sid] = Step(sid, base_name, index, inst.span, (target,),
                                   ExpectSpec(StepRef(target), tuple(checks)))

    def _expect_targets(self, ref: ast.Ref, inst: Instance) -> list[str] | None:
        binding = inst.env.get(ref.name)
        if binding is not None and not ref.index:
            self.error(ref.span, f"`{ref.name}` is the loop variable; expect checks an export", codes.EXPECT_LOOP_VARIABLE)
            return None
        ids = self._lookup(ref.name, ref.index, ref.span, inst, many=True)
        if ids is None:
            return None
        for sid in ids:
            kind = sid.split(".", 1)[0]
            if kind != "export":
                self.error(ref.span, f"`{ref.name}` is {_article(kind)} {kind}; expect checks an export", codes.EXPECT_NOT_EXPORT,
                           help="name the export whose file should be checked")
                return None
        self.used.update(ids)
        return ids

    def _assertion(self, a: ast.Assertion, inst: Instance) -> Check | None:
        subject = a.subject_text
        text_span = a.span
        if a.op == "has":
            words = [w.name for w in a.subject]
            negated = words[:1] == ["no"]
            what = " ".join(words[1:] if negated else words)
            if what not in sig.EXPECT_HAS:
                self.error(a.span, f"unknown check `has {' '.join(words)}`", codes.UNKNOWN_HAS_CHECK,
                           expected=tuple(f"`has {h}`" for h in sig.EXPECT_HAS) + tuple(f"`has no {h}`" for h in sig.EXPECT_HAS),
                           help=suggestion(what, sig.EXPECT_HAS))
                return None
            return Check(what, CheckOp.HAS_NO if negated else CheckOp.HAS, None, self._assert_text(a), text_span)
        if any(w.index for w in a.subject) or subject not in sig.EXPECT_SUBJECTS:
            subj_span = Span(a.span.file, a.subject[0].span.line, a.subject[0].span.column,
                             a.subject[-1].span.end_line, a.subject[-1].span.end_column)
            self.error(subj_span, f"unknown property `{subject}`", codes.UNKNOWN_PROPERTY,
                       expected=tuple(f"`{s}`" for s in sig.EXPECT_SUBJECTS),
                       help=suggestion(subject, sig.EXPECT_SUBJECTS))
            return None
        spec, ordered = sig.EXPECT_SUBJECTS[subject]
        if a.op in ("<", "<=", ">", ">=", "~=") and not ordered:
            self.error(a.span, f"`{subject}` can only be compared with == or !=", codes.UNORDERED_COMPARISON)
            return None
        if a.op == "~=" and subject not in ("duration", "fps", "file size", "bitrate"):
            self.error(a.span, f"`~=` (about equal) applies to duration, fps, file size and bitrate, not `{subject}`", codes.APPROX_NOT_APPLICABLE)
            return None
        value = self._coerce(a.value, spec, inst, sig.Slot(subject, spec), f"`{subject}`")
        if value is _FAIL:
            return None
        return Check(subject, CheckOp(a.op), value, self._assert_text(a), text_span)

    def _assert_text(self, a: ast.Assertion) -> str:
        line = self.sources.line(a.span.file, a.span.line) or ""
        if a.span.end_line == a.span.line:
            return line[a.span.column - 1 : a.span.end_column - 1].strip()
        return line[a.span.column - 1 :].strip()

    # ---- whole-recipe checks ---------------------------------------------------------------------

    def _cycles(self) -> None:
        from ..core.graph import find_cycles

        for cycle in find_cycles(self.steps):
            path = " → ".join([*cycle, cycle[0]])
            first = self.steps[cycle[0]]
            self.error(first.span, f"dependency cycle: {path}", codes.DEPENDENCY_CYCLE,
                       help="a step cannot depend on itself, directly or through other steps; break one of the references",
                       related=tuple(Related(self.steps[s].span, f"{s} is declared here") for s in cycle[1:]))

    def _export_paths(self) -> None:
        written: dict[Path, Step] = {}
        media_files = {s.spec.path: s for s in self.steps.values() if s.kind == "media" and s.spec.path is not None}
        for step in self.steps.values():
            if step.kind != "export":
                continue
            path = step.spec.path
            if path in media_files:
                self.error(step.span, f"`{step.id}` would overwrite the source media {path.name}", codes.OVERWRITES_SOURCE,
                           help="source media is never modified; save the export somewhere else",
                           related=(Related(media_files[path].span, "the media is declared here"),))
            elif path in written:
                self.error(step.span, f"`{step.id}` and `{written[path].id}` both write {os.path.relpath(path)}", codes.SAME_OUTPUT,
                           help="give each export its own `save` path; in a loop, use the item in it, e.g. `save \"out/${clip}.mp4\"`",
                           related=(Related(written[path].span, f"{written[path].id} is declared here"),))
            else:
                written[path] = step

    def _unused(self, statements: list) -> None:
        for name, decl in self.param_decls.items():
            if name not in self.used_params and name in self.params:
                self.warn(decl.name.span, f"param `{name}` is never used", codes.UNUSED_PARAM, help=f"use it as `${name}`, or remove it")
        for step in self.steps.values():
            if step.kind == "media" and step.id not in self.used and not step.index:
                self.warn(step.span, f"media `{step.name}` is never used", codes.UNUSED_MEDIA, help="refer to it in an edit, or remove it")
        if not any(s.kind == "export" for s in self.steps.values()) and self.steps:
            first = statements[0].span if statements else Span.point("recipe", 1, 1)
            self.warn(first, "this recipe has no export, so a run renders nothing", codes.NO_EXPORT,
                      help="add `export NAME = EDIT { save \"out/NAME.mp4\" }`")

    def _source_order(self) -> dict[str, Step]:
        """Steps in declaration order (includes where they are included, loops item by item)."""
        last = len(self.order)

        def key(step: Step):
            # an expect on a fanned-out export made outside its loop sits with its own declaration
            return (self.order.get(step.id, self.order.get("expect." + step.name, last)), step.id)

        return {s.id: s for s in sorted(self.steps.values(), key=key)}


# ---- helpers -------------------------------------------------------------------------------------

def _fits_kind(value, kind: str) -> bool:
    actual = kind_of(value)
    if kind == actual:
        return True
    if kind == "int":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return actual == "number"
    if kind == "path":
        return actual == "string"
    return False


def _magnitude(value, slot: sig.Slot) -> float | None:
    if isinstance(value, Duration):
        return value.seconds
    if isinstance(value, Percent):
        return value.value / 100 if slot.type == "factor|percent" else value.value
    if isinstance(value, Decibels):
        return 100 * 10 ** (value.value / 20)
    if isinstance(value, (Factor, Pixels, Fps)):
        return value.value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    return None


def _describe(value) -> str:
    kind = kind_of(value)
    if kind == "string":
        return f'the string "{value}"'
    if kind == "list":
        return "a list"
    if kind == "bool":
        return f"`{str(value).lower()}`"
    word = {"percent": "percentage", "filesize": "file size", "fps": "frame rate", "number": "number"}.get(kind, kind)
    article = "an" if word[0] in "aeiou" else "a"
    return f"{article} {word} `{value}`"


def _describe_item(item) -> str:
    if isinstance(item, ast.Word):
        return f"the name `{item.text}`"
    if isinstance(item, ast.StringLit):
        return f"the string {item.text}"
    if isinstance(item, ast.Var):
        return f"`${item.name}`"
    if isinstance(item, ast.ListLit):
        return "a list"
    if isinstance(item, ast.Literal) and item.value is not None:
        return _describe(item.value).replace(f"`{item.value}`", f"`{item.text}`")
    return f"`{getattr(item, 'text', '?')}`"


def _expected_text(spec) -> str:
    if isinstance(spec, tuple):
        return "one of " + ", ".join(f"`{c}`" for c in spec)
    if spec in ("media", "draft", "source"):
        return f"the name of a {_want_text(spec)}"
    if spec == "path":
        return "a path in quotes"
    if spec == "look":
        return "a look name or a .cube file"
    names = []
    for kind in (spec if isinstance(spec, list) else spec.split("|")):
        if kind == "frame":
            names.append("`vertical`, `square`")
        elif kind == "int":
            names.append("a whole number")
        else:
            names.append(KIND_NAMES.get(kind, kind))
    return " or ".join(names)


def _short(spec) -> str:
    return "|".join(spec) if isinstance(spec, tuple) else spec.split("|")[0]


_EXAMPLES = {"duration": "2s", "percent": "35%", "resolution": "1080p", "aspect": "9:16", "color": "white",
             "string": '"Hello"', "number": "1", "int": "20", "filesize": "50MB", "bitrate": "8Mbps",
             "frequency": "440hz", "fps": "30fps", "pixels": "48px", "factor": "2x", "media": "clip",
             "draft": "cut", "source": "clip", "look": '"warm"', "path": '"out/final.mp4"', "bool": "true"}


def _example(spec) -> str:
    if isinstance(spec, tuple):
        return spec[0]
    return _EXAMPLES.get(spec.split("|")[0], "…")


def _slot_text(slot: sig.Slot) -> str:
    return _expected_text(slot.type)


def _want_text(want: str) -> str:
    return {"media": "media", "draft": "edit or ask", "source": "media, edit or ask"}.get(want, want)


def _article(kind: str) -> str:
    return "an" if kind[0] in "aeiou" else "a"


def _usage(signature: sig.Signature) -> str:
    parts = [f"<{_short(s.type)}>" if s.required else f"[{_short(s.type)}]" for s in signature.positional]
    parts += [f"{s.name} <{_short(s.type)}>" for s in signature.keywords]
    parts += list(signature.flags)
    return " ".join(parts) if parts else "nothing"


def _unit_hint(expected: str, value) -> str | None:
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if "duration" in expected:
            return f"add a unit: `{value}s`"
        if "percentage" in expected:
            return f"add a unit: `{value}%`"
        if "pixels" in expected:
            return f"add a unit: `{value}px`"
    return None


def _end_of(span: Span) -> Span:
    return Span(span.file, span.end_line, span.end_column, span.end_line, span.end_column + 1)


def _kw_span(clause: ast.Clause, keyword: str) -> Span:
    items = clause.items
    for i, item in enumerate(items):
        if isinstance(item, ast.Word) and item.name == keyword:
            last = items[i + 1] if i + 1 < len(items) else item
            return Span(item.span.file, item.span.line, item.span.column, last.span.end_line, last.span.end_column)
    return clause.span


def _similar_file(path: Path) -> str | None:
    parent = path.parent
    if not parent.is_dir():
        return None
    try:
        names = [p.name for p in parent.iterdir()][:2000]
    except OSError:
        return None
    return did_you_mean(path.name, names)


def _sibling(written: str, name: str) -> str:
    """`written` with its file name replaced: a suggestion in the user's own terms."""
    head = os.path.dirname(written)
    return f"{head}/{name}" if head else name
