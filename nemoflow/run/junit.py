"""`--junit FILE`: the run as a JUnit XML report, the format every CI server reads.

Each `expect` assertion is a test case (classname: the expect step; name:
the assertion as written), failing with expected vs actual. A second suite
lists every step, so a failed render shows up as an error too; assertions
that could not run because their export failed are skipped, not passed.
Pictures a failed check saved are named in its system-out as
`[[ATTACHMENT|path.png]]`, the line Jenkins' JUnit attachments plugin and
GitLab's unit test reports turn into a link or an inline image.
"""

from __future__ import annotations

import contextlib
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from ..core.model import Recipe


class JUnitReport:
    """An event sink that remembers what JUnit needs; `write()` at the end of the run."""

    def __init__(self, recipe: Recipe) -> None:
        self.recipe = recipe
        self.checks: list[dict[str, Any]] = []
        self.steps: dict[str, dict[str, Any]] = {}
        self.seconds = 0.0
        self.started: str | None = None

    def __call__(self, event: dict[str, Any]) -> None:
        kind = event["event"]
        if kind == "run-started":
            self.started = event["t"]
        elif kind == "check":
            self.checks.append(event)
        elif kind == "step-finished":
            self.steps[event["step"]] = event
        elif kind == "run-finished":
            self.seconds = event["seconds"]

    def write(self, path: Path) -> None:
        name = str(self.recipe.path)
        root = ET.Element("testsuites", name="nemoflow")
        checks = ET.SubElement(root, "testsuite", name=f"{name}: expect", timestamp=self.started or "")
        done_targets = {c["step"] for c in self.checks}
        counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for c in self.checks:
            case = ET.SubElement(checks, "testcase", classname=c["step"], name=c["check"], file=c["file"], line=str(c["line"]),
                                 time="0")
            counts["tests"] += 1
            if not c["ok"]:
                counts["failures"] += 1
                failure = ET.SubElement(case, "failure", message=f"expected {c['expected']}, actual {c['actual']}", type="expect")
                failure.text = f"{c['file']}:{c['line']}: expected {c['expected']}\nactual: {c['actual']}" + "".join(
                    f"\nsaved: {path}" for path in c.get("artifacts") or ())
            out = [f"golden written: {c['golden_written']}"] if c.get("golden_written") else []
            out += [f"[[ATTACHMENT|{_attached(path)}]]" for path in c.get("artifacts") or ()]  # Jenkins and GitLab show these
            if out:
                ET.SubElement(case, "system-out").text = "\n".join(out)
        for step in self.recipe.by_kind("expect"):  # assertions that never ran: their export failed or was blocked
            ended = self.steps.get(step.id)
            if ended is None or step.id in done_targets:
                continue
            for check in step.spec.checks:
                case = ET.SubElement(checks, "testcase", classname=step.id, name=check.text, file=check.span.file,
                                     line=str(check.span.line), time="0")
                counts["tests"] += 1
                if ended["status"] == "failed":
                    counts["errors"] += 1
                    ET.SubElement(case, "error", message=(ended.get("error") or "failed").splitlines()[0][:500], type="step")
                else:
                    counts["skipped"] += 1
                    ET.SubElement(case, "skipped", message=f"not checked: {ended.get('error') or ended['status']}")
        _totals(checks, counts)

        steps = ET.SubElement(root, "testsuite", name=f"{name}: steps", timestamp=self.started or "")
        scounts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
        for sid, ended in self.steps.items():
            case = ET.SubElement(steps, "testcase", classname=ended["kind"], name=sid, time=f"{ended.get('seconds', 0):.3f}")
            scounts["tests"] += 1
            if ended["status"] == "failed":
                scounts["errors"] += 1
                error = ET.SubElement(case, "error", message=(ended.get("error") or "failed").splitlines()[0][:500], type="step")
                error.text = ended.get("error", "")
            elif ended["status"] in ("blocked", "cancelled"):
                scounts["skipped"] += 1
                ET.SubElement(case, "skipped", message=ended.get("error") or ended["status"])
            elif ended["status"] in ("cached", "restored"):
                ET.SubElement(case, "system-out").text = ended["status"]
        _totals(steps, scounts)
        root.set("tests", str(counts["tests"] + scounts["tests"]))
        root.set("failures", str(counts["failures"] + scounts["failures"]))
        root.set("errors", str(counts["errors"] + scounts["errors"]))
        root.set("time", f"{self.seconds:.3f}")
        ET.indent(root)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        try:
            ET.ElementTree(root).write(tmp, encoding="utf-8", xml_declaration=True)
            os.replace(tmp, path)
        except BaseException:  # a place that cannot take the report keeps no half-written temporary
            with contextlib.suppress(OSError):
                tmp.unlink()
            raise


def _attached(path: str) -> str:
    """A picture's path for an attachment line: relative to the working directory (a CI job's project folder, which
    GitLab resolves attachment paths against) when it is beneath it, else absolute."""
    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def _totals(suite: ET.Element, counts: dict[str, int]) -> None:
    for k, v in counts.items():
        suite.set(k, str(v))
