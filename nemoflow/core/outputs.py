"""Where exports may be written: the rule `check` reports at each `save` and `run` checks again before rendering.

A recipe is shared (git, CI), so it names places relative to itself: its
outputs go under the recipe's folder. Anything else, a `..` path, an
absolute or `~` path, a symbolic link leading out, is allowed only by the
person running it: `--allow-outside`, or an `output_root` in their own
config (`[run] output_root`, NEMOFLOW_OUTPUT_ROOT). A recipe cannot grant
itself that permission.
"""

from __future__ import annotations

import os
from pathlib import Path

import attrs


@attrs.frozen
class OutputPolicy:
    """The folders outputs may go under besides the recipe's own, or anywhere."""

    roots: tuple[Path, ...] = ()  # `output_root` settings; a relative one is relative to the recipe's folder
    anywhere: bool = False  # --allow-outside

    def allows(self, path: Path, recipe_dir: Path, *, written_portably: bool = True) -> bool:
        """Is `path` (symbolic links followed) under the recipe's folder or an output root?

        `written_portably` is False for a `save` written as an absolute or `~` path: such a path names a place on
        one machine, so it is allowed only under an output root (or anywhere), even if it points into the recipe's folder.
        """
        if self.anywhere:
            return True
        real = Path(os.path.realpath(path))
        folders = [*(self.root_paths(recipe_dir)), *([Path(os.path.realpath(recipe_dir))] if written_portably else [])]
        return any(real == folder or folder in real.parents for folder in folders)

    def root_paths(self, recipe_dir: Path) -> list[Path]:
        """The output roots as absolute paths with links resolved."""
        return [Path(os.path.realpath(recipe_dir / root.expanduser())) for root in self.roots]


def machine_specific(save: str) -> bool:
    """A `save` path written as an absolute or home-relative path."""
    return os.path.isabs(save) or save.startswith("~")
