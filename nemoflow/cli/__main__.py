"""`python -m nemoflow.cli`: the same as the `nemoflow` command."""

from . import entry

entry()
