"""Errors a user can cause or fix, each carrying its exit code.

The CLI prints `str(err)` as one paragraph (what, where, what to do) and exits
with `err.exit_code`; no traceback. Anything else reaching the CLI is a bug.
"""

from __future__ import annotations


class NemoflowError(Exception):
    """Base of every user-facing failure outside recipe diagnostics."""

    exit_code = 1


class MediaError(NemoflowError):
    """Source media that cannot be used: missing, unreadable, unsupported, too large."""

    exit_code = 2


class ConfigError(NemoflowError):
    """A setting (environment variable, config file) that points at something unusable."""

    exit_code = 2


class DraftError(NemoflowError):
    """A Draft that fails its schema or cannot be built from the recipe."""

    exit_code = 2


class RenderError(NemoflowError):
    """FFmpeg (or an engine) failed while producing an output."""

    exit_code = 1


class TransientError(NemoflowError):
    """A failure worth retrying as is: a dropped connection, a 5xx (network steps only)."""

    exit_code = 1
