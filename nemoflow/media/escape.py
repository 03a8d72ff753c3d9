"""Escaping for FFmpeg filter graphs, so user text is always data, never syntax.

A value inside `-filter_complex` is unquoted twice: once by the graph parser
(which splits on `[ ] , ;`) and once by the filter's option parser (which
splits on `:` and `=`). We quote for the option parser first, then escape
every character the graph parser treats specially. drawtext's own `%{…}`
expansion is switched off where text is drawn (expansion=none).
"""

from __future__ import annotations

_GRAPH_SPECIAL = set("\\'[],;")


def option_value(value: str) -> str:
    """Quote for the filter option parser: '…' with each ' written as '\\''."""
    return "'" + value.replace("'", "'\\''") + "'"


def graph_escape(text: str) -> str:
    """Backslash-escape what the graph parser would otherwise interpret."""
    return "".join("\\" + ch if ch in _GRAPH_SPECIAL else ch for ch in text)


def filter_value(value: str) -> str:
    """Both levels: a string that arrives at the filter exactly as given."""
    return graph_escape(option_value(value))


def lavfi_number(value: float) -> str:
    """A number for a filter option (never scientific notation, which some options reject)."""
    text = f"{value:.6f}".rstrip("0").rstrip(".")
    return text if text not in ("", "-0") else "0"
