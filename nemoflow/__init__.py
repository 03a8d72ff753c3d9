"""nemoflow: version-controlled video edits, from a `.nemo` recipe to a finished MP4."""

__version__ = "0.1.0"
