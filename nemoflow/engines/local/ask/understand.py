"""An ask step's instruction as intents, or the error that says which words were not understood, and where.

The check runs when the run is planned, so an unknown instruction stops the
run before any footage is analysed or rendered.
"""

from __future__ import annotations

from ....core.diagnostics import Sources, Span
from ....core.model import Step
from ....errors import NemoflowError
from .intents import KNOWN, Intent, NotUnderstood
from .scanner import BadValue, parse


def intents_of(step: Step, sources: Sources | None = None) -> list[Intent]:
    """The step's intents; NemoflowError (the message not_understood gives) when it cannot be mapped."""
    intents, problem = _interpret(step, sources)
    if problem is not None:
        raise NemoflowError(f"{step.spec.where or step.span}: {problem}")
    return intents


def not_understood(step: Step, sources: Sources | None = None) -> str | None:
    """None when every word of the instruction maps to an intent; else what, where and what to do, in one paragraph."""
    return _interpret(step, sources)[1]


def _interpret(step: Step, sources: Sources | None) -> tuple[list[Intent], str | None]:
    instruction = step.spec.instruction
    try:
        return parse(instruction), None
    except NotUnderstood as err:
        parts = err.parts or [(0, len(instruction), instruction)]
        quoted = " and ".join(f"“{text.strip()}”" for _, _, text in parts)
        return [], (f"`ask {step.name}`: the local engine does not understand {quoted} in “{instruction}”"
                    f"{_pointer(step, parts[0][0], sources)}\n"
                    f"  It understands: {'; '.join(KNOWN)}.\n"
                    "  Rephrase that part in those terms, write the edit as clauses in an `edit` block, or run this step on the "
                    "nemo engine (`--engine nemo`, or `engine nemo` in the recipe), whose AI editor takes any instruction.")
    except BadValue as err:
        return [], f"`ask {step.name}`: {err.message}{_pointer(step, err.start, sources)}"


def _pointer(step: Step, offset: int, sources: Sources | None) -> str:
    """' (line 12, column 30):' plus the recipe line with a caret under the words, when the literal maps 1:1 to the text."""
    where: Span | None = step.spec.where
    if where is None:
        return ""
    line, column = where.line, where.column
    text = sources.line(where.file, line) if sources is not None else None
    literal = text[column - 1:where.end_column - 1] if text is not None and where.end_line == line else None
    if literal is None or literal[1:-1] != step.spec.instruction:  # escapes or a multi-line string: point at the literal
        offset = -1
    col = column + 1 + offset
    caret = f"\n    {line} | {text}\n    {' ' * len(str(line))} | {' ' * (col - 1)}^" if text is not None else ""
    return f" ({where.file}:{line}:{col}){caret}"
