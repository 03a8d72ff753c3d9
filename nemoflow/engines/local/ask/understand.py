"""An ask step's instruction as intents, or the diagnostic that says which words were not understood, and where.

The local engine's `diagnose` calls this when a recipe is checked and when a
run is planned, so an unknown instruction is an ordinary diagnostic of
`nemoflow check` (E401, E402) and stops a run before any footage is analysed.
"""

from __future__ import annotations

from ....core import codes
from ....core.diagnostics import Diagnostic, Related, Sources, render, span_within
from ....core.model import AskSpec, Step
from ....errors import NemoflowError
from .intents import KNOWN, Intent, NotUnderstood
from .scanner import BadValue, parse


class InstructionError(NemoflowError):
    """An instruction the local engine cannot carry out; its text is the rendered diagnostic."""

    exit_code = 2


def diagnose(step: Step[AskSpec], sources: Sources) -> Diagnostic | None:
    """None when every word of the instruction maps to an intent; else what, where (the words themselves) and what to do."""
    return _interpret(step, sources)[1]


def intents_of(step: Step[AskSpec], sources: Sources) -> list[Intent]:
    """The step's intents; InstructionError (the diagnostic, rendered) when the instruction cannot be mapped."""
    intents, problem = _interpret(step, sources)
    if problem is not None:
        raise InstructionError(render(problem, sources))
    return intents


def _interpret(step: Step[AskSpec], sources: Sources) -> tuple[list[Intent], Diagnostic | None]:
    spec = step.spec
    instruction = spec.instruction
    where = spec.where or step.span

    def words(start: int, end: int):
        return span_within(where, sources, instruction, start, end)

    try:
        return parse(instruction), None
    except NotUnderstood as err:
        parts = err.parts or [(0, len(instruction), instruction)]
        quoted = " and ".join(f"“{text.strip()}”" for _, _, text in parts)
        first, *rest = parts
        return [], Diagnostic(
            words(first[0], first[1]), f"`ask {step.name}`: the local engine does not understand {quoted} in “{instruction}”",
            codes.INSTRUCTION_NOT_UNDERSTOOD.id,
            help=f"it understands: {'; '.join(KNOWN)}. Rephrase that part in those terms, write the edit as clauses in an "
                 "`edit` block, or run this step on the nemo engine (`--engine nemo`, or `engine nemo` in the recipe), whose AI "
                 "editor takes any instruction",
            related=tuple(Related(words(a, b), f"“{text.strip()}” is not understood either") for a, b, text in rest))
    except BadValue as err:
        return [], Diagnostic(words(err.start, err.end), f"`ask {step.name}`: {err.message}", codes.INSTRUCTION_OUT_OF_RANGE.id)
