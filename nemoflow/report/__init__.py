"""The HTML report of a run: one self-contained page to look at instead of read (docs/report.md)."""
