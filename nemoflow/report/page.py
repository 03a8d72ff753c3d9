"""The report's one HTML page: the run's verdict, each export (poster, player, timeline), the checks with the pictures
of failed ones, the plan as SVG and the timings. Styles are inline and nothing is fetched, so the page opens offline.

Every text that comes from a recipe, a file name or a run is escaped here; files are referred to by relative URLs into
the report's own folder (build.py copies them there).
"""

from __future__ import annotations

from datetime import datetime
from html import escape
from pathlib import PurePath
from urllib.parse import quote

import attrs

from .facts import CheckFacts, RunFacts, StepFacts


@attrs.frozen
class ExportView:
    """One export as the page shows it; paths are relative to the report folder."""

    step: str
    status: str
    output: str  # the output's path, as the recipe's reader knows it
    summary: str
    seconds: float
    media: str | None  # the copied output, for the player
    media_type: str  # video/mp4, image/gif …; "" when unknown
    poster: str | None
    timeline: str | None
    missing: tuple[str, ...] = ()  # what is not shown, and why


@attrs.frozen
class CheckView:
    check: CheckFacts
    pictures: tuple[tuple[str, str], ...] = ()  # (relative path, caption)
    missing: tuple[str, ...] = ()


@attrs.frozen
class PageInput:
    facts: RunFacts
    recipe: str
    plan: str  # an <svg> element
    exports: tuple[ExportView, ...]
    checks: tuple[CheckView, ...]
    generated: datetime
    version: str


STATUS_WORDS = {"ok": "ran", "restored": "restored", "cached": "cached", "failed": "failed", "blocked": "blocked",
                "cancelled": "cancelled", "": "did not finish"}

CSS = """
:root { color-scheme: light; --ok: #2e7d32; --bad: #c62828; --warn: #ef6c00; --dim: #607d8b; --line: #e0e4e8; }
* { box-sizing: border-box; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", "DejaVu Sans", sans-serif; color: #1f2a30;
       background: #f7f8fa; }
header, section, footer { max-width: 1680px; margin: 0 auto; padding: 12px 24px; }
header { padding-top: 20px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 18px 0 8px; border-bottom: 1px solid var(--line);
padding-bottom: 4px; } h3 { font-size: 15px; margin: 0 0 6px; }
nav a { margin-right: 14px; color: #1565c0; text-decoration: none; }
.verdict { font-size: 15px; font-weight: 600; margin: 4px 0 8px; }
.verdict.ok { color: var(--ok); } .verdict.failed, .verdict.interrupted, .verdict.unfinished { color: var(--bad); }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 6px 0; }
dl.facts dt { color: var(--dim); } dl.facts dd { margin: 0; }
.badge { display: inline-block; padding: 0 7px; border-radius: 9px; font-size: 12px; font-weight: 600; background: #eceff1;
         color: #37474f; }
.badge.ok { background: #e8f5e9; color: var(--ok); } .badge.failed { background: #ffebee; color: var(--bad); }
.badge.blocked, .badge.cancelled { background: #fff3e0; color: var(--warn); } .badge.restored { background: #e3f2fd; color: #1565c0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 8px; width: 264px; }
.card img { width: 100%; display: block; border-radius: 4px; background: #263238; }
.card a { color: inherit; text-decoration: none; }
article.export { background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 14px; margin: 12px 0; }
.path { color: var(--dim); margin: 0 0 10px; word-break: break-all; }
video, .player img { max-width: 100%; max-height: 540px; background: #000; border-radius: 4px; display: block; }
figure { margin: 0 0 10px; } figcaption { color: var(--dim); font-size: 12px; margin-top: 3px; }
img.timeline { max-width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 4px; }
ul.missing { color: var(--warn); margin: 6px 0; padding-left: 18px; }
table { border-collapse: collapse; width: 100%; background: #fff; border: 1px solid var(--line); }
th, td { text-align: left; padding: 5px 8px; border-bottom: 1px solid var(--line); vertical-align: top; }
th { background: #eef1f4; font-weight: 600; font-size: 13px; }
td.ok { color: var(--ok); font-weight: 600; } td.failed { color: var(--bad); font-weight: 600; }
tr.pictures td { background: #fff8f8; } .pictures figure { display: inline-block; margin: 4px 12px 4px 0; vertical-align: top; }
.pictures img { max-width: 420px; max-height: 260px; display: block; border: 1px solid var(--line); }
.scroll { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 8px; padding: 6px; }
svg.plan text { font-family: system-ui, "DejaVu Sans", sans-serif; }
td.bar { width: 45%; } .track { position: relative; height: 12px; background: #f0f2f4; border-radius: 3px; }
.track span { position: absolute; top: 0; height: 12px; border-radius: 3px; background: #90a4ae; min-width: 2px; }
.track span.ok { background: #66bb6a; } .track span.failed { background: #e57373; } .track span.restored { background: #64b5f6; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.why { color: var(--dim); font-size: 12px; }
footer { color: var(--dim); font-size: 12px; padding-bottom: 28px; }
"""


def render_page(given: PageInput) -> str:
    facts = given.facts
    title = f"nemoflow report: {PurePath(given.recipe).name}"
    body = [_header(given), _exports(given.exports), _checks(given.checks, facts), _plan(given.plan), _timings(facts),
            _notes(facts), _footer(given)]
    return ("<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
            f"<title>{escape(title)}</title>\n<link rel=\"icon\" href=\"data:,\">\n<style>{CSS}</style>\n</head>\n<body>\n"
            + "\n".join(part for part in body if part) + "\n</body>\n</html>\n")


def _header(given: PageInput) -> str:
    facts = given.facts
    verdict = facts.status or "unfinished"
    checks = [c for c in facts.checks]
    passed = sum(c.ok for c in checks)
    if verdict not in ("ok", "failed", "interrupted"):
        verdict = "unfinished"
    words = {"ok": "The run succeeded", "failed": "The run failed", "interrupted": "The run was interrupted",
             "unfinished": "The run did not finish (its journal has no end: it was killed)"}[verdict]
    if checks or facts.not_run:
        words += f": {passed}/{len(checks) + facts.not_run} checks passed" + (f" ({facts.not_run} not run)" if facts.not_run else "")
    counts = ", ".join(f"{facts.count(s)} {STATUS_WORDS[s]}" for s in ("ok", "restored", "cached", "failed", "blocked", "cancelled")
                       if facts.count(s))
    rows = [("recipe", given.recipe), ("run", facts.run_id), ("started", _when(facts.started)), ("engine", facts.engine),
            ("time", f"{facts.seconds:.1f} s" if facts.seconds is not None else "—"), ("steps", counts or "none")]
    return (f"<header>\n<h1>{escape(PurePath(given.recipe).name)}</h1>\n<p class=\"verdict {escape(verdict)}\">{escape(words)}</p>\n"
            "<dl class=\"facts\">" + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in rows) + "</dl>\n"
            "<nav><a href=\"#exports\">Exports</a><a href=\"#checks\">Checks</a><a href=\"#plan\">Plan</a>"
            "<a href=\"#timings\">Timings</a></nav>\n</header>")


def _exports(exports: tuple[ExportView, ...]) -> str:
    out = ["<section id=\"exports\">", "<h2>Exports</h2>"]
    if not exports:
        out.append("<p>This run had no exports.</p></section>")
        return "\n".join(out)
    out.append("<div class=\"cards\">")
    for n, view in enumerate(exports, 1):
        picture = (f"<img src=\"{_url(view.poster)}\" alt=\"poster frame of {escape(view.step)}\" class=\"poster\">"
                   if view.poster else "")
        out.append(f"<div class=\"card\" data-step=\"{escape(view.step)}\"><a href=\"#export-{n}\">{picture}"
                   f"<h3>{escape(view.step)} {_badge(view.status, view.seconds)}</h3></a>"
                   f"<div class=\"path\">{escape(view.output)}</div></div>")
    out.append("</div>")
    for n, view in enumerate(exports, 1):
        out.append(f"<article class=\"export\" id=\"export-{n}\" data-step=\"{escape(view.step)}\">"
                   f"<h3>{escape(view.step)} {_badge(view.status, view.seconds)}</h3>"
                   f"<p class=\"path\">{escape(view.output)}" + (f" — {escape(view.summary)}" if view.summary else "") + "</p>")
        out.append(_player(view))
        if view.timeline:
            out.append(f"<figure><img class=\"timeline\" src=\"{_url(view.timeline)}\" data-step=\"{escape(view.step)}\" "
                       f"alt=\"timeline of {escape(view.step)}\"><figcaption>the timeline {escape(view.step)} renders: one "
                       "row per track</figcaption></figure>")
        if view.missing:
            out.append("<ul class=\"missing\">" + "".join(f"<li>{escape(m)}</li>" for m in view.missing) + "</ul>")
        out.append("</article>")
    out.append("</section>")
    return "\n".join(out)


def _player(view: ExportView) -> str:
    if not view.media:
        return ""
    if view.media_type.startswith("image/"):
        return f"<figure class=\"player\"><img src=\"{_url(view.media)}\" alt=\"{escape(view.step)}\"></figure>"
    poster = f" poster=\"{_url(view.poster)}\"" if view.poster else ""
    kind = f" type=\"{escape(view.media_type)}\"" if view.media_type in ("video/mp4", "video/webm") else ""
    return (f"<figure class=\"player\"><video controls preload=\"metadata\"{poster} data-step=\"{escape(view.step)}\">"
            f"<source src=\"{_url(view.media)}\"{kind}>"
            f"<a href=\"{_url(view.media)}\">download {escape(view.output)}</a></video>"
            f"<figcaption><a href=\"{_url(view.media)}\">{escape(view.media.rsplit('/', 1)[-1])}</a>: a copy of "
            f"{escape(view.output)}</figcaption></figure>")


def _checks(checks: tuple[CheckView, ...], facts: RunFacts) -> str:
    out = ["<section id=\"checks\">", "<h2>Checks</h2>"]
    if not checks and not facts.not_run:
        out.append("<p>No <code>expect</code> checks ran.</p></section>")
        return "\n".join(out)
    if facts.not_run:
        out.append(f"<p class=\"why\">{facts.not_run} check{'s' if facts.not_run != 1 else ''} not run: "
                   "their export failed or was blocked.</p>")
    out.append("<table class=\"checks\"><thead><tr><th>result</th><th>step</th><th>check</th><th>expected</th><th>actual</th>"
               "</tr></thead><tbody>")
    for view in checks:
        c = view.check
        state = "ok" if c.ok else "failed"
        where = f" <span class=\"why\">line {c.line}</span>" if c.line else ""
        cached = " <span class=\"why\">(cached)</span>" if c.cached else ""
        out.append(f"<tr class=\"check {state}\"><td class=\"{state}\">{'✓ ok' if c.ok else '✗ failed'}</td>"
                   f"<td>{escape(c.step)}</td><td>{escape(c.check)}{where}{cached}</td><td>{escape(c.expected)}</td>"
                   f"<td>{escape(c.actual)}</td></tr>")
        if view.pictures or view.missing:
            figures = "".join(f"<figure><img src=\"{_url(path)}\" alt=\"{escape(caption)}\"><figcaption>{escape(caption)}"
                              "</figcaption></figure>" for path, caption in view.pictures)
            gone = "".join(f"<p class=\"why\">{escape(m)}</p>" for m in view.missing)
            out.append(f"<tr class=\"pictures\"><td></td><td colspan=\"4\"><div class=\"pictures\">{figures}{gone}</div></td></tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _plan(svg: str) -> str:
    return ("<section id=\"plan\">\n<h2>Plan</h2>\n<p class=\"why\">Each step of the recipe, its inputs on the left, coloured "
            "by how it ended in this run; hover a step for why it ran.</p>\n"
            f"<div class=\"scroll\">{svg}</div>\n</section>")


def _timings(facts: RunFacts) -> str:
    steps = list(facts.steps.values())
    out = ["<section id=\"timings\">", "<h2>Timings</h2>"]
    if not steps:
        out.append("<p>No steps.</p></section>")
        return "\n".join(out)
    start = facts.started
    ends = [(s.finished - start).total_seconds() for s in steps if s.finished and start]
    total = max([facts.seconds or 0.0, *ends, 1e-3])
    out.append("<table class=\"timings\"><thead><tr><th>step</th><th>status</th><th>time</th><th>when, within the run "
               f"({total:.1f} s)</th><th>why</th></tr></thead><tbody>")
    def when(s: StepFacts) -> float:
        moment = s.started or s.finished
        return (moment - start).total_seconds() if moment and start else float("inf")

    for s in sorted(steps, key=lambda s: (when(s), s.id)):
        bar = ""
        if start is not None and (s.started or s.finished):
            begin = ((s.started or s.finished) - start).total_seconds()  # type: ignore[operator]
            length = s.seconds if s.started else 0.0
            left, width = max(0.0, begin / total * 100), max(0.0, min(length / total * 100, 100.0))
            bar = f"<div class=\"track\"><span class=\"{escape(s.status)}\" style=\"left:{left:.2f}%;width:{width:.2f}%\"></span></div>"
        out.append(f"<tr data-step=\"{escape(s.id)}\"><td>{escape(s.id)}</td><td>{_badge(s.status, None)}</td>"
                   f"<td class=\"num\">{s.seconds:.2f} s</td><td class=\"bar\">{bar}</td>"
                   f"<td class=\"why\">{escape('; '.join(_why(s)))}</td></tr>")
    out.append("</tbody></table></section>")
    return "\n".join(out)


def _why(step: StepFacts) -> list[str]:
    said = [step.error] if step.error else []
    return said + ([step.summary] if step.summary and not step.error else []) + list(step.reasons[:2])


def _notes(facts: RunFacts) -> str:
    said = [(s.id, kind, text) for s in facts.steps.values() for kind, text in s.messages]
    if not facts.notes and not said:
        return ""
    items = [f"<li>{escape(n)}</li>" for n in facts.notes]
    items += [f"<li><b>{escape(sid)}</b> {escape(kind)}: {escape(text)}</li>" for sid, kind, text in said]
    return "<section id=\"notes\">\n<h2>Notes</h2>\n<ul>" + "".join(items) + "</ul>\n</section>"


def _footer(given: PageInput) -> str:
    return (f"<footer>Made by nemoflow {escape(given.version)} on {escape(_when(given.generated))} from run "
            f"{escape(given.facts.run_id)}. Everything this page shows is in its folder: it needs no network.</footer>")


def _badge(status: str, seconds: float | None) -> str:
    words = STATUS_WORDS.get(status, status)
    if seconds is not None and status in ("ok", "restored"):
        words += f" {seconds:.1f} s"
    return f"<span class=\"badge {escape(status)}\">{escape(words)}</span>"


def _url(path: str | None) -> str:
    return escape(quote(path or "", safe="/"))


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S %Z").strip() if moment else "—"
