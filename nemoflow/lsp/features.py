"""What the server's handlers call: imported on the first request that needs them, not at start.

The language (lark, the checker, the formatter) takes a good part of a second
to import on a busy machine; the server answers `initialize` before that.
"""

from __future__ import annotations

from ..lang import ast
from ..lang.fmt import format_source
from . import navigation
from .analysis import Analysis, Parses, analyse, read_disk
from .completion import complete
from .hover import ProbeCache, hover
from .status import Statuses

__all__ = ["Analysis", "Parses", "ProbeCache", "Statuses", "analyse", "ast", "complete", "format_source", "hover",
           "navigation", "read_disk"]
