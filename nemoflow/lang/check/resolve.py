"""Per-kind resolution: each declared Instance (media, edit, ask, export, expect) becomes a checked Step.

Besides matching each clause, this is where rules across a step's arguments
live: in-point before out-point and within a generated source's length,
transitions between clips, `save` agreeing with `format` and the codecs.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import attrs

from ...core import codes
from ...core import signatures as sig
from ...core.diagnostics import Related, Span, suggestion
from ...core.model import (
    AskSpec,
    Check,
    CheckKind,
    CheckOp,
    EditSpec,
    ExpectSpec,
    ExportSettings,
    ExportSpec,
    LooksLike,
    MediaSource,
    MediaSpec,
    Op,
    RunLimit,
    Step,
    StepKind,
    StepRef,
    Tracks,
    step_id,
)
from ...core.outputs import machine_specific
from ...core.sniff import describe_type, misnamed, sniff_file
from ...core.values import Duration, Resolution
from .. import ast
from . import captions, cells
from .coerce import coerce
from .match import match_clause, signature_of
from .refs import lookup, reference
from .state import FAIL, Instance, State
from .text import article, describe, describe_item, keyword_span, sibling, similar_file
from .values import param_value, string_value

_CLIP_VERBS = ("video", "image", "concat")


def resolve(st: State, inst: Instance) -> None:
    """Turn one Instance into a checked Step in `st.steps`, reporting whatever does not fit."""
    if inst.kind == StepKind.MEDIA and inst.path is not None:
        st.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (),
                                 MediaSpec(MediaSource.FILE, path=inst.path))
        _media_file_checks(st, inst.path, inst.span, str(inst.path))
        return
    _BY_KIND[inst.kind](st, inst)


def _base(st: State, ref: ast.Ref, inst: Instance, what: str):
    value = reference(st, ref, "source", inst, what, many=False)
    return None if value is FAIL else value


def _media(st: State, inst: Instance) -> None:
    stmt: ast.Media = inst.stmt
    clause = stmt.source
    head = clause.items[0]
    spec = None
    used, before = head.span, len(st.diags)
    if isinstance(head, ast.Var) and cells.is_cell(head):  # `media clip = $row.file`: errors at the cell
        head = cells.item_for(st, head, inst.env, ("path",))
        if head is FAIL:
            return
    if isinstance(head, (ast.StringLit, ast.Var)):
        text = string_value(st, head, inst.env) if isinstance(head, ast.StringLit) else param_value(st, head, inst.env)
        if text is None or text is FAIL:
            return
        if not isinstance(text, str):
            st.error(head.span, f"a media source is a path or URL in quotes, got {describe(text)}", codes.MEDIA_NOT_A_PATH)
            return
        if len(clause.items) > 1:
            st.error(clause.items[1].span, "a media file takes no options", codes.MEDIA_FILE_OPTIONS,
                     help="options such as in/out points go on the `video` line of an edit")
            return
        spec = _media_location(st, text, head.span, inst)
        cells.note_use(st, before, head.span, used)
    elif isinstance(head, ast.Word):
        signature = sig.GENERATORS.get(head.name)
        if signature is None:
            st.error(head.span, f"unknown media source `{head.name}`", codes.UNKNOWN_GENERATOR,
                     expected=("a path or URL in quotes", *(f"`{g}`" for g in sig.GENERATORS)),
                     help=suggestion(head.name, sig.GENERATORS) or 'a file is written in quotes: `media clip = "footage/clip.mp4"`')
            return
        args = match_clause(st, signature, clause.items[1:], inst, clause.span, f"media `{stmt.name.name}`")
        if args is None:
            return
        if head.name == "gradient" and not _gradient_rules(st, args, clause):
            return
        spec = MediaSpec(MediaSource.GENERATED, generator=head.name, options=args)
    else:
        st.error(head.span, f"a media source is a path or URL in quotes, got {describe_item(head)}", codes.MEDIA_NOT_A_PATH)
        return
    if spec is not None:
        st.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (), spec)


def _media_location(st: State, text: str, span: Span, inst: Instance) -> MediaSpec | None:
    if "://" in text:
        scheme = text.split("://", 1)[0].lower()
        if scheme not in ("http", "https") or not text.split("://", 1)[1].split("/", 1)[0]:
            st.error(span, f"unsupported URL `{text}`", codes.UNSUPPORTED_URL, help="media URLs start with https:// or http://")
            return None
        return MediaSpec(MediaSource.URL, url=text)
    if not text.strip():
        st.error(span, "empty media path", codes.EMPTY_MEDIA_PATH)
        return None
    path = (inst.base_dir / os.path.expanduser(text)).resolve()
    if not _media_file_checks(st, path, span, text):
        return None
    return MediaSpec(MediaSource.FILE, path=path)


def _media_file_checks(st: State, path: Path, span: Span, shown: str) -> bool:
    ext = path.suffix.lower().lstrip(".")
    if ext not in sig.MEDIA_EXTENSIONS:
        st.error(span, f"unsupported media type `.{ext}`" if ext else f"media file has no extension: {shown}", codes.UNSUPPORTED_MEDIA_TYPE,
                 help="supported: " + ", ".join(sig.MEDIA_EXTENSIONS))
        return False
    if os.path.isdir(path):  # os.path, not Path: a name over NAME_MAX is "not found", not an OSError
        st.error(span, f"{shown} is a directory", codes.MEDIA_IS_DIRECTORY,
                 help="to use every file in it, loop: `for clip in glob(\"dir/*.mp4\")`")
        return False
    if not os.path.exists(path):
        hint = similar_file(path)
        where = os.path.normpath(os.path.join(os.path.dirname(span.file), shown)) if not os.path.isabs(shown) else shown
        st.error(span, f"media file not found: {shown}", codes.MEDIA_NOT_FOUND,
                 help=f"did you mean `{sibling(shown, hint)}`?" if hint
                 else f"looked for {where}; paths are relative to the recipe's folder")
        return False
    return _media_content_checks(st, path, span, shown)


def _media_content_checks(st: State, path: Path, span: Span, shown: str) -> bool:
    """What the run would refuse, told from the file's first bytes (and an MP4's box headers): never decoded, so
    `check` stays fast. A name that promises another kind of media than the content is worth a warning."""
    try:
        found = sniff_file(path)
    except OSError:
        return True  # a file that cannot even be stat'ed: the run says why
    if found.problem:
        st.error(span, f"{shown} cannot be used: {found.problem}", codes.BROKEN_MEDIA, help=found.fix)
        return False
    if found.type is not None and misnamed(path, found.type):
        right = f"{path.stem}.{found.type}"
        st.warn(span, f"{shown} is {describe_type(found.type)}, whatever its `{path.suffix}` name says", codes.MEDIA_CONTENT_MISMATCH,
                help=f"nemoflow goes by the content; rename it to `{right}` so other tools (and readers) are not misled")
    return True


def _edit(st: State, inst: Instance) -> None:
    stmt: ast.Edit = inst.stmt
    base = _base(st, stmt.base, inst, f"`edit {stmt.name.name} =`") if stmt.base is not None else None
    if stmt.base is not None and base is None:
        return
    ops: list[Op] = []
    inputs: dict[str, None] = {base.id: None} if base else {}  # ordered, and membership is a lookup (concat of 4,000)
    ok = True
    clips = 0
    pending_transition: ast.Clause | None = None
    for clause in stmt.body:
        signature = signature_of(st, clause, sig.EDIT_OPS, "an edit")
        if signature is None:
            ok = False
            continue
        args = match_clause(st, signature, clause.items[1:], inst, clause.span, f"edit `{stmt.name.name}`")
        if args is None:
            ok = False
            continue
        if not _op_rules(st, signature.verb, args, clause, inst):
            ok = False
            continue
        if signature.verb == "transition":
            if clips == 0 and base is None:
                st.error(clause.span, "a transition needs a clip before it", codes.TRANSITION_FIRST,
                         help="put `transition` between two `video` lines")
                ok = False
            pending_transition = clause
        elif signature.verb in _CLIP_VERBS:
            clips += 1
            pending_transition = None
        for value in args.values():
            for ref in value if isinstance(value, tuple) else (value,):
                if isinstance(ref, StepRef):
                    inputs.setdefault(ref.id)
        ops.append(Op(signature.verb, args, clause.span))
    if pending_transition is not None and ok:
        st.error(pending_transition.span, "nothing follows this transition", codes.TRANSITION_LAST,
                 help="add the clip it leads into after it, or remove it")
        ok = False
    if ok and clips == 0 and base is None:
        st.error(stmt.name.span, f"edit `{stmt.name.name}` has no clips", codes.EDIT_WITHOUT_CLIPS,
                 help="add `video <media>` lines, or start from another draft: `edit " + stmt.name.name + " = <draft> {`")
        ok = False
    if ok:
        st.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, tuple(inputs),
                                 EditSpec(base, tuple(ops)))


def _op_rules(st: State, verb: str, args: dict, clause: ast.Clause, inst: Instance) -> bool:
    """Rules across arguments: in before out, within known source lengths."""
    start, end = args.get("from"), args.get("to")
    if "to" in args and "for" in args:
        st.error(clause.span, f"`{verb}` has both `to` and `for`", codes.TO_AND_FOR,
                 help="give the out-point (`to`) or the length (`for`), not both")
        return False
    if isinstance(start, Duration) and isinstance(end, Duration) and end.seconds <= start.seconds:
        st.error(keyword_span(clause, "to"), f"`to {end}` is not after `from {start}`", codes.OUT_BEFORE_IN,
                 help="the out-point must come after the in-point")
        return False
    if verb == "audio" and "fit" in args and "at" in args:
        st.error(keyword_span(clause, "at"), f"`fit {args['fit']}` places the sound with the last clip so far, so `at` has "
                 "no place to go", codes.AUDIO_FIT_WITH_AT,
                 help="give `at` (a time on the timeline) or `fit` (with the clip before this line), not both")
        return False
    if verb == "kenburns" and not _kenburns_rules(st, args, clause):
        return False
    if verb == "captions" and not captions.caption_rules(st, args, clause):
        return False
    length = args.get("duration")
    if verb == "transition" and isinstance(length, Duration) and length.seconds > sig.TRANSITION_MAX_S:
        st.error(clause.items[2].span if len(clause.items) > 2 else clause.span,
                 f"a transition of {length} is longer than FFmpeg's xfade allows ({sig.TRANSITION_MAX_S:g}s)",
                 codes.OUT_OF_RANGE, help=f"use a transition of at most {sig.TRANSITION_MAX_S:g}s")
        return False
    if verb == "transition" and args.get("kind") == "cut" and args.get("ease") not in (None, "linear"):
        st.error(keyword_span(clause, "ease"), f"`ease {args['ease']}` on a `cut`: a cut has no time to ease",
                 codes.EASE_ON_A_CUT, help="remove `ease`, or name a transition that runs over time (e.g. `crossfade 1s`)")
        return False
    source = args.get("source")
    if verb in ("video", "image") and isinstance(source, StepRef) and not _kind_fits(st, verb, source.id, clause):
        return False
    if verb in ("overlay", "pip") and isinstance(source, StepRef) and not _layer_fits(st, verb, source.id, clause, args):
        return False
    if verb in ("overlay", "pip") and "ease" in args and not any(k in args for k in ("move", "move-x", "move-y", "scale")):
        st.error(keyword_span(clause, "ease"), f"`ease {args['ease']}` says how the {verb} moves, but nothing moves it",
                 codes.EASE_WITHOUT_MOTION, help="add where it ends (`move top-left`, `move-x 80%`) or its end width "
                                                 "(`scale 20%`), or remove `ease`")
        return False
    if verb in ("overlay", "pip"):
        for named, x, y in (("at", "x", "y"), ("move", "move-x", "move-y")):
            if named in args and x in args and y in args:
                st.warn(keyword_span(clause, named), f"`{named} {args[named]}` has no effect: `{x}` and `{y}` place it",
                        codes.PLACE_OVERRIDDEN, help=f"remove `{named}`, or one of `{x}`/`{y}` to keep its other axis")
        if "fit" in args and not ("width" in args and "height" in args):
            st.warn(keyword_span(clause, "fit"), f"`fit {args['fit']}` has no effect without both `width` and `height`",
                    codes.LAYER_KEYWORD_NO_EFFECT, help="with one of them (or neither) the source's aspect is kept; give "
                                                        "both to choose the box, or remove `fit`")
        if "origin" in args and not any(k in args for k in ("x", "y", "move-x", "move-y")):
            st.warn(keyword_span(clause, "origin"), f"`origin {args['origin']}` has no effect without `x` or `y`",
                    codes.LAYER_KEYWORD_NO_EFFECT, help="`origin` says which point of it `x`/`y` place; `at` places it "
                                                        "by itself: remove `origin`, or give `x`/`y`")
        length = _known_length(st, source.id) if isinstance(source, StepRef) else None
        skip = args.get("skip")
        if length is not None and isinstance(skip, Duration) and skip.seconds >= length - 1e-9:
            st.error(keyword_span(clause, "skip"), f"`skip {skip}` is at or past the end of `{st.steps[source.id].label}` "
                     f"({Duration(length)})", codes.POINT_PAST_END, help=f"the source is {Duration(length)} long")
            return False
    if verb in ("video", "music", "audio") and isinstance(source, StepRef):
        length = _known_length(st, source.id)
        if length is not None:
            for key in ("from", "to"):
                val = args.get(key)
                if isinstance(val, Duration) and val.seconds > length + 1e-9:
                    name = st.steps[source.id].label
                    st.error(keyword_span(clause, key), f"`{key} {val}` is past the end of `{name}` ({Duration(length)})",
                             codes.POINT_PAST_END, help=f"the source is {Duration(length)} long")
                    return False
            span_for = args.get("for")
            begin = start.seconds if isinstance(start, Duration) else 0.0
            if isinstance(span_for, Duration) and begin + span_for.seconds > length + 1e-9:
                st.error(keyword_span(clause, "for"), f"`for {span_for}` runs past the end of the source ({Duration(length)})",
                         codes.LENGTH_PAST_END, help=f"the source is {Duration(length)} long")
                return False
    return True


def _kenburns_rules(st: State, args: dict, clause: ast.Clause) -> bool:
    """A pan travels across the room the zoom leaves around the view: at 100% at both ends there is none."""
    low, high = (float(args[k].value) if k in args else d for k, d in zip(("from", "to"), sig.KENBURNS_ZOOM, strict=True))
    if "pan" in args and max(low, high) <= 100:
        st.error(keyword_span(clause, "pan"), f"`pan {args['pan']}` has no room: the view is the whole picture (100%) at "
                 "both ends, so it cannot move", codes.KENBURNS_PAN_WITHOUT_ROOM,
                 help="zoom in to make room, e.g. `kenburns from 120% to 120% pan "
                      f"{args['pan']}` (a pure pan) or `kenburns to 130% pan {args['pan']}`")
        return False
    return True


def _gradient_rules(st: State, args: dict, clause: ast.Clause) -> bool:
    """2 to 8 colours (what FFmpeg's `gradients` draws); an angle only where it means something (linear)."""
    colors = args.get("colors", ())
    least, most = sig.GRADIENT_COLORS
    if not least <= len(colors) <= most:
        spots = [item for item in clause.items[1:] if not (isinstance(item, ast.Word) and item.name in sig.GRADIENTS)]
        span = spots[most].span if len(colors) > most else clause.span
        st.error(span, f"a gradient takes {least} to {most} colours, got {len(colors)}", codes.GRADIENT_COLOR_COUNT,
                 help=f"for one colour, use the `color` generator: `color {colors[0]} duration …`" if colors and len(colors) < least
                 else f"keep {most} colours (FFmpeg's gradient source draws at most {most})")
        return False
    if "angle" in args and args.get("kind") == "radial":
        st.error(keyword_span(clause, "angle"), "a radial gradient runs from the centre to the corners: it has no angle",
                 codes.GRADIENT_ANGLE_ON_RADIAL, help="remove `angle`, or make it `gradient linear …`")
        return False
    return True


def _kind_fits(st: State, verb: str, step_id: str, clause: ast.Clause) -> bool:
    """`video` of a still or of sound alone, `image` of anything but a picture: the run would stop on it (the file's
    first bytes tell, whatever its name); check says so first. Files whose kind the bytes leave open pass."""
    step = st.steps.get(step_id)
    if step is None or not isinstance(step.spec, MediaSpec) or step.spec.source != MediaSource.FILE or step.spec.path is None:
        return True
    try:
        found = sniff_file(step.spec.path)
    except OSError:
        return True
    name, kind = step.label, found.kind
    if verb == "video" and kind in ("image", "audio"):
        holds = "a still image" if kind == "image" else "sound only"
        fix = (f"show it for a while with `image {name} for 3s`" if kind == "image"
               else f"put it under the picture with `music {name}` or `audio {name}`")
        st.error(clause.span, f"`{name}` is {holds} ({describe_type(found.type)}), but `video` needs moving pictures",
                 codes.MEDIA_WRONG_KIND, help=fix)
        return False
    if verb == "image" and found.type is not None and kind != "image" and found.type != "gif":
        holds = "sound only" if kind == "audio" else "a video"
        st.error(clause.span, f"`{name}` is {holds} ({describe_type(found.type)}), not a still image", codes.MEDIA_WRONG_KIND,
                 help=f"use `video {name}`, or export the frame you want as PNG or JPEG" if kind != "audio"
                 else f"use `music {name}` or `audio {name}`, or point it at an image file")
        return False
    return True


def _layer_fits(st: State, verb: str, step_id: str, clause: ast.Clause, args: dict) -> bool:
    """An overlay shows a picture: a generated sound, or a file whose bytes say sound only, is refused here; `skip`
    or `volume` on a still image would do nothing, and is said."""
    step = st.steps.get(step_id)
    if step is None or not isinstance(step.spec, MediaSpec):
        return True
    still = False
    if step.spec.source == MediaSource.FILE and step.spec.path is not None:
        try:
            found = sniff_file(step.spec.path)
        except OSError:
            return True
        audio, shown = found.kind == "audio", f" ({describe_type(found.type)})"
        still = found.kind == "image" and found.type != "gif"
    else:
        audio, shown = step.spec.generator in ("tone", "silence"), f" (a generated `{step.spec.generator}`)"
    if audio:
        st.error(clause.span, f"`{step.label}` is sound only{shown}, but `{verb}` shows a picture", codes.MEDIA_WRONG_KIND,
                 help=f"give `{verb}` an image or a video; put a sound on the timeline with `audio {step.label} at 2s`")
        return False
    for key in ("skip", "volume") if still else ():
        if key in args:
            st.warn(keyword_span(clause, key), f"`{key} {args[key]}` has no effect: `{step.label}` is a still image",
                    codes.LAYER_KEYWORD_NO_EFFECT, help=f"remove `{key}`; it applies to a video overlay")
    return True


def _known_length(st: State, step_id: str) -> float | None:
    """A source's length, when the checker can know it (generated media); None for files."""
    step = st.steps.get(step_id)
    if step is not None and isinstance(step.spec, MediaSpec) and step.spec.source == "generated":
        dur = step.spec.options.get("duration")
        return dur.seconds if isinstance(dur, Duration) else None
    return None


def _ask(st: State, inst: Instance) -> None:
    stmt: ast.Ask = inst.stmt
    base = _base(st, stmt.base, inst, f"`ask {stmt.name.name} =`")
    instruction = coerce(st, stmt.instruction, "string", inst, sig.Slot("instruction", "string"), "an ask")
    if base is None or instruction is FAIL:
        return
    if not instruction.strip():
        st.error(stmt.instruction.span, "empty instruction", codes.EMPTY_INSTRUCTION, help='say what to do, e.g. "trim the shaky clips"')
        return
    spec = AskSpec(base, instruction, stmt.instruction.span)
    st.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (base.id,), spec)


def _export(st: State, inst: Instance) -> None:
    stmt: ast.Export = inst.stmt
    base = _base(st, stmt.base, inst, f"`export {stmt.name.name} =`")
    settings: dict[str, Any] = {}
    spans: dict[str, ast.Clause] = {}
    ok = base is not None
    for clause in stmt.body:
        signature = signature_of(st, clause, sig.EXPORT_SETTINGS, "an export")
        if signature is None:
            ok = False
            continue
        if signature.verb in settings or signature.verb in spans:
            st.error(clause.span, f"`{signature.verb}` given twice", codes.SETTING_TWICE,
                     related=(Related(spans[signature.verb].span, "first given here"),))
            ok = False
            continue
        spans[signature.verb] = clause
        args = match_clause(st, signature, clause.items[1:], inst, clause.span, f"export `{stmt.name.name}`")
        if args is None:
            ok = False
            continue
        settings[signature.verb] = args["value"]
    ok = _export_rules(st, settings, spans, inst) and ok
    if "volume" in settings and base is not None and _sets_loudness(st, base):
        st.error(spans["volume"].span, "the edit this export renders sets `loudness`, which fixes the programme's level; "
                 "a master `volume` after it would move it off that target", codes.MASTER_VOLUME_WITH_LOUDNESS,
                 help="remove `volume` here, or `loudness` from the edit (for a quieter programme, lower its `loudness` target)")
        ok = False
    if not ok:
        return
    save = settings.pop("save", None)
    if save is None:
        suffix = "-".join(inst.index)
        save = f"out/{inst.name}{'-' + suffix if suffix else ''}.{settings.get('format', 'mp4')}"
    path = (inst.base_dir / os.path.expanduser(save)).resolve()
    settings.setdefault("format", path.suffix.lstrip(".").lower())
    st.steps[inst.id] = Step(inst.id, inst.name, inst.index, inst.span, (base.id,),
                             ExportSpec(base, path, ExportSettings(**settings)))


def _save_allowed(st: State, save: str, target: Path, span: Span, inst: Instance, what: str = "save") -> bool:
    """Outputs go under the recipe's folder unless the person running it allows more (core/outputs.py). Golden
    pictures (`looks like`) follow the same rule: `--update-golden` writes them."""
    portable = not machine_specific(save)
    if st.outputs.allows(target, st.recipe_dir, written_portably=portable):
        return True
    home = st.recipe_dir
    roots = st.outputs.root_paths(home)
    allow = ("to allow this place, run with --allow-outside, or name a folder holding it as `output_root` under [run] in "
             "your config file (or NEMOFLOW_OUTPUT_ROOT)" + (f"; the output roots now are: {', '.join(map(str, roots))}" if roots else ""))
    if home == target or home in target.parents:  # an absolute or `~` path that happens to point inside
        rel = os.path.relpath(target, home)
        st.error(span, f"`{what} \"{save}\"` names a place on this machine only (an absolute or `~` path): {target}", codes.SAVE_OUTSIDE,
                 help=f"write it relative to the recipe: `{what} \"{Path(rel).as_posix()}\"`; or, {allow}")
        return False
    written = Path(os.path.normpath(inst.base_dir / os.path.expanduser(save)))
    through_link = portable and (written == home or home in written.parents)
    how = "leads, through a symbolic link, outside" if through_link else "is outside"
    st.error(span, f"`{what} \"{save}\"` {how} the recipe's folder: {target}", codes.SAVE_OUTSIDE,
             help=f"outputs go under the recipe's folder ({home}), so that a shared recipe cannot write elsewhere; {allow}")
    return False


def _sets_loudness(st: State, ref: StepRef) -> bool:
    """Whether the Draft `ref` names carries a `loudness` target: one of its edits, or an edit it builds on, has the
    clause (a spliced edit's target is not carried: only the base draft's is)."""
    seen: set[str] = set()
    step = st.steps.get(ref.id)
    while step is not None and step.id not in seen:
        seen.add(step.id)
        spec = step.spec
        if isinstance(spec, EditSpec):
            if any(op.verb == "loudness" for op in spec.ops):
                return True
            step = st.steps.get(spec.base.id) if spec.base is not None else None
        elif isinstance(spec, AskSpec):
            step = st.steps.get(spec.base.id)
        else:
            return False
    return False


def _export_rules(st: State, settings: dict, spans: dict, inst: Instance) -> bool:
    """Rules across an export's settings: `save` vs `format`, codecs the container holds, size."""
    ok = True
    save = settings.get("save")
    fmt = settings.get("format")
    if save is not None:
        span = spans["save"].items[1].span if len(spans["save"].items) > 1 else spans["save"].span
        ext = Path(save).suffix.lower().lstrip(".")
        if not save.strip() or save.endswith(("/", os.sep)):
            st.error(span, f"`save` needs a file name, got `{save}`", codes.SAVE_WITHOUT_NAME, help='write e.g. `save "out/final.mp4"`')
            return False
        if not ext:
            st.error(span, f"`save \"{save}\"` has no file extension", codes.SAVE_WITHOUT_EXTENSION,
                     help=f"write `save \"{save}.{fmt or 'mp4'}\"`")
            ok = False
        elif fmt is None and ext not in sig.FORMATS:
            st.error(span, f"cannot write a `.{ext}` file", codes.UNKNOWN_SAVE_EXTENSION,
                     help="exports are " + ", ".join(f".{f}" for f in sig.FORMATS))
            ok = False
        elif fmt is not None and ext != fmt:
            st.error(span, f"`save` ends in .{ext} but `format` is {fmt}", codes.SAVE_FORMAT_MISMATCH,
                     help=f"make them agree: `save \"{Path(save).with_suffix('.' + fmt).as_posix()}\"`")
            ok = False
        else:
            fmt = fmt or ext
        target = (inst.base_dir / os.path.expanduser(save)).resolve()
        if os.path.isdir(target):
            st.error(span, f"`save` points at a directory: {save}", codes.SAVE_IS_DIRECTORY, help="give a file name inside it")
            ok = False
        if ".nemoflow" in target.parts:
            st.error(span, "exports cannot be written inside .nemoflow/ (the cache)", codes.SAVE_IN_CACHE)
            ok = False
        ok = _save_allowed(st, save, target, span, inst) and ok
    codec = settings.get("codec")
    if codec is not None and fmt is not None and codec not in sig.FORMAT_CODECS[fmt]:
        st.error(spans["codec"].span, f"{fmt} files cannot hold {codec} video", codes.VIDEO_CODEC_CONTAINER,
                 help=f"{fmt} takes: " + ", ".join(sig.FORMAT_CODECS[fmt]))
        ok = False
    audio = settings.get("audio")
    if (audio == "opus" and fmt in ("mp4", "mov")) or (audio == "aac" and fmt == "webm"):
        st.error(spans["audio"].span, f"{fmt} files cannot hold {audio} audio", codes.AUDIO_CODEC_CONTAINER)
        ok = False
    if fmt in sig.SILENT_FORMATS:  # animated pictures: no sound, and their own quality controls
        for key in ("audio", "volume"):
            if key in settings and not (key == "audio" and audio == "none"):
                st.error(spans[key].span, f"{fmt} files hold no sound, so `{key}` has nothing to act on",
                         codes.SOUND_SETTING_SILENT_FORMAT,
                         help=f"remove `{key}`; for a version with sound, add an mp4 export of the same edit")
                ok = False
        for key in ("crf", "bitrate"):
            if key in settings:
                st.error(spans[key].span, f"`{key}` does not apply to {fmt} files", codes.RATE_SETTING_PICTURE_FORMAT,
                         help=f"`quality high|medium|draft` sets {'the palette dithering' if fmt == 'gif' else 'the compression'}")
                ok = False
    size = settings.get("size")
    if isinstance(size, Resolution) and (size.width % 2 or size.height % 2 or size.width > 8192 or size.height > 8192):
        st.error(spans["size"].span, f"output size {size} is not encodable", codes.SIZE_NOT_ENCODABLE,
                 help="width and height must be even and at most 8192 (H.264 4:2:0)")
        ok = False
    if "crf" in settings and "bitrate" in settings:
        st.error(spans["bitrate"].span, "give `crf` or `bitrate`, not both", codes.CRF_AND_BITRATE)
        ok = False
    return ok


def _expect(st: State, inst: Instance) -> None:
    stmt: ast.Expect = inst.stmt
    targets = _expect_targets(st, stmt.target, inst)
    if targets is None:
        return
    checks = []
    ok = True
    for assertion in stmt.body:
        check = _assertion(st, assertion, inst)
        if check is None:
            ok = False
        else:
            checks.append(check)
    if not ok:
        return
    for target in targets:
        if not _sound_checks_fit(st, target.id, checks):
            continue
        sid = step_id(StepKind.EXPECT, target.name, target.index)
        if sid in st.steps:
            st.error(stmt.target.span, f"a second `expect` for `{target.label}`", codes.SECOND_EXPECT,
                     help="put all checks of an export in one expect block",
                     related=(Related(st.steps[sid].span, "first expect here"),))
            continue
        st.steps[sid] = Step(sid, target.name, target.index, inst.span, (target.id,),
                             ExpectSpec(StepRef(target.id), tuple(checks)))


_SOUND_SUBJECTS = ("audio codec", "audio channels", "loudness", "true peak")


def _sound_checks_fit(st: State, export_id: str, checks: list[Check]) -> bool:
    """A GIF or WebP export has no sound: a check that needs sound is an error (`has no audio` is fine, and true)."""
    step = st.steps.get(export_id)
    fmt = step.spec.settings.format if step is not None and isinstance(step.spec, ExportSpec) else None
    if fmt not in sig.SILENT_FORMATS:
        return True
    ok = True
    for check in checks:
        sound = (check.subject in _SOUND_SUBJECTS or check.kind in (CheckKind.NO_SILENCE, CheckKind.AV_SYNC)
                 or (check.kind == CheckKind.PRESENCE and check.subject == "audio" and check.op == CheckOp.HAS)
                 or (check.kind == CheckKind.TRACKS and any(kind == "audio" and n for kind, n in check.value.counts)))
        if sound:
            st.error(check.span, f"`{check.text}` checks sound, but {fmt} files hold none", codes.AUDIO_CHECK_SILENT_FORMAT,
                     help="remove it (`has no audio` is true of them), or check an mp4 export of the same edit")
            ok = False
    return ok


def _expect_targets(st: State, ref: ast.Ref, inst: Instance) -> list[Instance] | None:
    binding = inst.env.get(ref.name)
    if binding is not None and not ref.index:
        st.error(ref.span, f"`{ref.name}` is the loop variable; expect checks an export", codes.EXPECT_LOOP_VARIABLE)
        return None
    found = lookup(st, ref.name, ref.index, ref.span, inst, many=True)
    if found is None:
        return None
    for target in found:
        if target.kind != StepKind.EXPORT:
            st.error(ref.span, f"`{ref.name}` is {article(target.kind)} {target.kind}; expect checks an export", codes.EXPECT_NOT_EXPORT,
                     help="name the export whose file should be checked")
            return None
    st.used.update(t.id for t in found)
    return found


def _assertion(st: State, a: ast.Assertion, inst: Instance) -> Check | None:
    subject = a.subject_text
    text_span = a.span
    if a.op == "has":
        words = [w.name for w in a.subject]
        negated = words[:1] == ["no"]
        what = " ".join(words[1:] if negated else words)
        if what not in sig.EXPECT_HAS:
            st.error(a.span, f"unknown check `has {' '.join(words)}`", codes.UNKNOWN_HAS_CHECK,
                     expected=tuple(f"`has {h}`" for h in sig.EXPECT_HAS) + tuple(f"`has no {h}`" for h in sig.EXPECT_HAS),
                     help=suggestion(what, sig.EXPECT_HAS))
            return None
        return Check(what, CheckOp.HAS_NO if negated else CheckOp.HAS, None, _assert_text(st, a), text_span, CheckKind.PRESENCE)
    if captions.is_caption_check(a):  # `caption "Hello" at 3s`, `no caption at 3s`
        return captions.caption_check(st, a, inst, _assert_text)
    if a.op in _FORMS:
        return _FORMS[a.op](st, a, inst)
    if a.subject and isinstance(a.subject[0], ast.Word) and a.subject[0].name == "frame" and len(a.subject) > 1:
        return _looks_like(st, a, inst)
    if subject == "tracks" and len(a.subject) == 1:
        return _tracks(st, a, inst)
    if a.more:
        st.error(_span_of(a.more), f"`{subject}` is compared with one value", codes.TRACKS_FORM,
                 help="only `tracks` takes several (`tracks == 1 video + 1 audio`)")
        return None
    if any(not isinstance(w, ast.Word) or w.index for w in a.subject) or subject not in sig.EXPECT_SUBJECTS:
        subj_span = Span(a.span.file, a.subject[0].span.line, a.subject[0].span.column,
                         a.subject[-1].span.end_line, a.subject[-1].span.end_column)
        st.error(subj_span, f"unknown property `{subject}`", codes.UNKNOWN_PROPERTY,
                 expected=tuple(f"`{s}`" for s in sig.EXPECT_SUBJECTS),
                 help=suggestion(subject, sig.EXPECT_SUBJECTS))
        return None
    spec, ordered = sig.EXPECT_SUBJECTS[subject]
    if a.op in ("<", "<=", ">", ">=", "~=") and not ordered:
        st.error(a.span, f"`{subject}` can only be compared with == or !=", codes.UNORDERED_COMPARISON)
        return None
    if a.op == "~=" and subject not in ("duration", "fps", "file size", "bitrate", "loudness"):
        st.error(a.span, f"`~=` (about equal) applies to duration, fps, file size, bitrate and loudness, not `{subject}`",
                 codes.APPROX_NOT_APPLICABLE)
        return None
    value = coerce(st, a.value, spec, inst, sig.Slot(subject, spec), f"`{subject}`")
    if value is FAIL:
        return None
    return Check(subject, CheckOp(a.op), value, _assert_text(st, a), text_span)


def _span_of(items) -> Span:
    first, last = items[0].span, items[-1].span
    return Span(first.file, first.line, first.column, last.end_line, last.end_column)


def _written(items) -> str:
    """Items as the recipe wrote them."""
    return " ".join(getattr(i, "text", "") or f"${getattr(i, 'name', '')}" for i in items)


def _words(items) -> list[str] | None:
    """The names of items that are all bare words, else None."""
    return [i.name for i in items] if all(isinstance(i, ast.Word) and not i.index for i in items) else None


def _no(st: State, a: ast.Assertion, inst: Instance) -> Check | None:
    """`no black frames`, `no frozen frames longer than 2s`, `no silence longer than 2s`."""
    items = list(a.subject)
    cut = next((i for i, w in enumerate(items) if isinstance(w, ast.Word) and w.name == "longer"), len(items))
    what_words = _words(items[:cut])
    what = " ".join(what_words) if what_words else ""
    if what not in sig.EXPECT_NO:
        shown = _written(items[:cut]) or "nothing"
        st.error(_span_of(items[:cut] or items), f"unknown check `no {shown}`", codes.UNKNOWN_NO_CHECK,
                 expected=tuple(f"`no {n}`" for n in sig.EXPECT_NO), help=suggestion(what, sig.EXPECT_NO))
        return None
    rest = items[cut:]
    limit = RunLimit(Duration(sig.EXPECT_NO[what]), False)
    if rest:
        if len(rest) != 3 or _words(rest[:2]) != ["longer", "than"] or isinstance(rest[2], ast.Word):
            st.error(_span_of(rest), f"`no {what}` reads `no {what} longer than DURATION`", codes.UNKNOWN_NO_CHECK,
                     help=f"write e.g. `no {what} longer than 2s`")
            return None
        value = coerce(st, rest[2], "duration", inst, sig.Slot("longer than", "duration"), "`longer than`")
        if value is FAIL:
            return None
        if value.seconds < 0:
            st.error(rest[2].span, "`longer than` takes a duration of 0s or more", codes.EXPECT_VALUE_RANGE)
            return None
        limit = RunLimit(value, True)
    kind = {"black frames": CheckKind.NO_BLACK, "frozen frames": CheckKind.NO_FROZEN, "silence": CheckKind.NO_SILENCE}[what]
    return Check(what, CheckOp.HAS_NO, limit, _assert_text(st, a), a.span, kind)


def _within(st: State, a: ast.Assertion, inst: Instance) -> Check | None:
    """`av sync within 20ms`."""
    if _words(a.subject) != ["av", "sync"]:
        st.error(_span_of(a.subject), f"unknown check `{_written(a.subject)} within`",
                 codes.UNKNOWN_WITHIN_CHECK, expected=("`av sync within DURATION`",), help="write e.g. `av sync within 20ms`")
        return None
    value = coerce(st, a.value, "duration", inst, sig.Slot("within", "duration"), "`av sync within`")
    if value is FAIL:
        return None
    if value.seconds <= 0:
        st.error(a.value.span, "`av sync within` takes a duration above 0, like `20ms`", codes.EXPECT_VALUE_RANGE)
        return None
    return Check("av sync", CheckOp.LE, value, _assert_text(st, a), a.span, CheckKind.AV_SYNC)


_LOOKS_LIKE_HELP = 'write e.g. `frame at 5s looks like "golden/5s.png" ssim >= 0.97` (or `psnr >= 35`)'


def _looks_like(st: State, a: ast.Assertion, inst: Instance) -> Check | None:
    """`frame at 5s looks like "golden/5s.png" ssim >= 0.97`: the golden path is resolved against this file's folder."""
    items = a.subject
    shape = [type(i).__name__ if not isinstance(i, ast.Word) else i.name for i in items]
    if len(items) != 7 or shape[:2] != ["frame", "at"] or shape[3:5] != ["looks", "like"] or not isinstance(items[6], ast.Word) \
            or isinstance(items[2], ast.Word) or isinstance(items[5], ast.Word):
        st.error(_span_of(items), "a frame check reads `frame at TIME looks like \"PICTURE.png\" METRIC >= NUMBER`",
                 codes.LOOKS_LIKE_FORM, help=_LOOKS_LIKE_HELP)
        return None
    metric = items[6].name
    if metric not in sig.LOOKS_LIKE_METRICS:
        st.error(items[6].span, f"unknown picture metric `{metric}`", codes.LOOKS_LIKE_FORM,
                 expected=tuple(f"`{m}`" for m in sig.LOOKS_LIKE_METRICS), help=suggestion(metric, sig.LOOKS_LIKE_METRICS))
        return None
    if a.op in ("==", "!=", "~="):
        st.error(a.span, f"`{metric}` is compared with >=, >, <= or <", codes.UNORDERED_COMPARISON,
                 help=f"write e.g. `{metric} >= {0.97 if metric == 'ssim' else 35}`")
        return None
    if a.more:
        st.error(_span_of(a.more), "a frame check takes one threshold", codes.LOOKS_LIKE_FORM, help=_LOOKS_LIKE_HELP)
        return None
    at = coerce(st, items[2], "duration", inst, sig.Slot("at", "duration"), "`frame at`")
    name = coerce(st, items[5], "path", inst, sig.Slot("like", "path"), "`looks like`")
    threshold = coerce(st, a.value, "number", inst, sig.Slot(metric, "number"), f"`{metric}`")
    if FAIL in (at, name, threshold):
        return None
    lo, hi = sig.LOOKS_LIKE_METRICS[metric]
    if not lo <= float(threshold) <= hi:
        st.error(a.value.span, f"{metric} {threshold} is out of range: {metric} goes from {lo:g} to {hi:g}"
                 + (" (1 = identical)" if metric == "ssim" else " dB (higher = closer)"), codes.EXPECT_VALUE_RANGE,
                 help=f"write e.g. `{metric} >= {0.97 if metric == 'ssim' else 35}`")
        return None
    if at.seconds < 0:
        st.error(items[2].span, "`frame at` takes a time of 0s or more", codes.EXPECT_VALUE_RANGE)
        return None
    if Path(name).suffix.lower() not in sig.GOLDEN_TYPES:
        suggested = Path(name).with_suffix(".png").as_posix() if Path(name).name else "golden/frame.png"
        st.error(items[5].span, f"the golden picture must be a .png file: {name or '(an empty name)'}", codes.GOLDEN_NOT_PNG,
                 help=f"PNG is lossless, so a golden compares the render and not a second compression; write e.g. `\"{suggested}\"`")
        return None
    golden = (inst.base_dir / os.path.expanduser(name)).resolve()  # as media and LUTs: relative to the file that says it
    if not _save_allowed(st, name, golden, items[5].span, inst, what="looks like"):
        return None
    return Check("frame", CheckOp(a.op), LooksLike(at, golden, metric, float(threshold)), _assert_text(st, a), a.span,
                 CheckKind.LOOKS_LIKE)


def _tracks(st: State, a: ast.Assertion, inst: Instance) -> Check | None:
    """`tracks == 1 video + 1 audio` (`+1` written without a space reads the same)."""
    if a.op not in ("==", "!="):
        st.error(a.span, "`tracks` can only be compared with == or !=", codes.UNORDERED_COMPARISON)
        return None
    tokens: list = []
    for item in (a.value, *a.more):
        if isinstance(item, ast.Literal) and item.text.startswith("+") and tokens:
            tokens.append(ast.Word("+", item.span))
            item = attrs.evolve(item, text=item.text[1:])
        tokens.append(item)
    counts: dict[str, int] = {}
    groups = [tokens[i:i + 3] for i in range(0, len(tokens), 3)]
    for group in groups:
        number, kind = group[0], group[1] if len(group) > 1 else None
        sep = group[2] if len(group) > 2 else None
        ok = (isinstance(number, ast.Literal) and number.text.isdigit() and isinstance(kind, ast.Word)
              and kind.name in sig.EXPECT_TRACK_TYPES and kind.name not in counts
              and (sep is None or (isinstance(sep, ast.Word) and sep.name == "+")) and (sep is not None or group is groups[-1]))
        if not ok or (sep is not None and group is groups[-1]):
            st.error(_span_of(group), "`tracks` reads `N video + N audio` (each type once: "
                     + ", ".join(sig.EXPECT_TRACK_TYPES) + ")", codes.TRACKS_FORM,
                     help="write e.g. `tracks == 1 video + 1 audio`, or `tracks == 1 video` for a file without sound")
            return None
        counts[kind.name] = int(number.text)
    return Check("tracks", CheckOp(a.op), Tracks(tuple(counts.items())), _assert_text(st, a), a.span, CheckKind.TRACKS)


_FORMS = {"no": _no, "within": _within}


def _assert_text(st: State, a: ast.Assertion) -> str:
    """An assertion as written, for the report of a failed expect."""
    line = st.sources.line(a.span.file, a.span.line) or ""
    if a.span.end_line == a.span.line:
        return line[a.span.column - 1 : a.span.end_column - 1].strip()
    return line[a.span.column - 1 :].strip()


_BY_KIND = {StepKind.MEDIA: _media, StepKind.EDIT: _edit, StepKind.ASK: _ask, StepKind.EXPORT: _export, StepKind.EXPECT: _expect}
