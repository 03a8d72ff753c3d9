"""Files shipped with nemoflow (grammar, schemas), found in a wheel or a source checkout."""

from __future__ import annotations

from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent


def resource_path(relative: str) -> Path:
    """The shipped file `relative` (e.g. "grammar/nemo.lark").

    A wheel carries it inside the package (see pyproject's force-include); a
    source checkout or editable install reads it from the repository root.
    """
    for base in (_PACKAGE, _PACKAGE.parent):
        candidate = base / relative
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"nemoflow is missing its {relative}; reinstall the package")


def grammar_text() -> str:
    return resource_path("grammar/nemo.lark").read_text(encoding="utf-8")
