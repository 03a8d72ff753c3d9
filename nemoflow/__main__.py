"""`python -m nemoflow`: the same as the `nemoflow` command."""

from .cli import entry

entry()
