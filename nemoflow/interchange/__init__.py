"""A cut to and from OpenTimelineIO (and, through its adapter plugins, FCP XML, EDL, Kdenlive): docs/otio.md.

`opentimelineio` is an optional dependency (`pip install 'nemoflow[otio]'`): every module here imports it through
`otio()`, so a missing package is a clear user error, not an ImportError.
"""

from __future__ import annotations

from types import ModuleType

from ..errors import NemoflowError

INSTALL_HINT = "pip install 'nemoflow[otio]'"


class InterchangeError(NemoflowError):
    """A cut that cannot be written or read: a missing package, a bad file, a timeline nemoflow cannot express."""

    exit_code = 2


def otio() -> ModuleType:
    """The opentimelineio module, or an InterchangeError saying what to install."""
    try:
        import opentimelineio
    except ImportError:
        raise InterchangeError(f"OpenTimelineIO is not installed; `nemoflow otio` and `nemoflow import` need it: "
                               f"{INSTALL_HINT}") from None
    return opentimelineio
