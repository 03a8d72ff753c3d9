"""The cloud engine under every reading of the contract: pass/fail per variant, requests per run, duplicate renders, recovery.

For each named variant of the fake (nemoflow.testing.fake_nemo.VARIANTS: how a
state draft names media, whether uploads land on the timeline, how an unknown
render id is answered, which extra fields appear, how often streams close
silently), without and with chaos (fake_nemo.CHAOS: HTTP 500s, cut streams,
render POSTs answered 500 after the job was made), it runs as real
`nemoflow run --engine nemo` subprocesses:

- every example recipe (generated footage at 320x180 instead of 1080p/4K:
  the steps are the examples' own), and
- an edit -> ask -> ask -> export chain (a clip, a still, a crossfade, a
  grade, a title, a text, music, a placed sound), then the same chain with
  the second ask's words changed, which makes nemoflow bring the session
  back to the first ask's timeline (the edit by instructions, the first ask
  asked again) before asking the second.

A case PASSES only if the run exited 0 and every output it should write
exists with the size (and length) it should have: a case that did not run
is never PASS. Per case: the HTTP requests the run made (from the fake's
log: API calls, message streams, file downloads), the render jobs the
service created, and the duplicates among them (a render created twice for
the same draft body: paid twice). The target is 0 duplicates.

Then two recoveries, under each reading of "unknown render" (HTTP 404, or
HTTP 200 with a body code):
- failed render: the service fails the render; the run fails clearly; the
  service recovers; the next run renders once and succeeds;
- die after persist: every render POST is lost before the service sees it
  (the id is on disk, the job never existed); the run fails; the next run
  finds the id unknown, renders under a new id, and succeeds; a third run
  is all cached.

    python benchmarks/nemo_variants.py [--json] [--only VARIANT] [--no-examples] [--keep DIR]

Exit 1 if any case FAILS (so a CI job can use it); 0 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from table import print_table  # benchmarks/ is sys.path[0] when a script here runs

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
TOKEN = "bench-variants-token"
RUN_TIMEOUT = 600
sys.path.insert(0, str(ROOT / "tests"))
from nemokit import CHAIN  # noqa: E402  (the chain the variants test runs: one recipe, not two copies)

CHAIN_OUT = {f"out/{n}.mp4": ((320, 180), 2.5) for n in ("plain", "final", "later")}

# (recipe, arguments, outputs: path -> (size, seconds or None))
EXAMPLE_RUNS: list[tuple[str, tuple[str, ...], dict[str, tuple[tuple[int, int], float | None]]]] = [
    ("urban_dreams.nemo", ("--set", "size=320x180"), {"out/urban_dreams.mp4": ((320, 180), 10.0)}),
    ("ask_polish.nemo", ("--set", "size=320x180"), {"out/ask_polish.mp4": ((320, 180), 8.0),
                                                     "out/ask_polish_vertical.mp4": ((720, 1280), 8.0)}),
    ("travel_reel.nemo", ("export.web",), {"out/travel_reel.mp4": ((1920, 1080), None)}),
    ("batch_social.nemo", ("--set", 'looks=["bars"]', "--set", "length=3s"),
     {"out/batch/bars-wide.mp4": ((1280, 720), 8.0), "out/batch/bars-vertical.webm": ((720, 1280), 3.0),
      "out/batch/compilation.mp4": ((720, 1280), 3.0)}),
]


def ffmpeg() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def make_media(where: Path) -> None:
    where.mkdir(parents=True, exist_ok=True)
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x180:rate=30:duration=3", "-f", "lavfi", "-i",
                    "sine=frequency=440:duration=3", "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
                    "-shortest", "-y", str(where / "clip.mp4")], check=True)
    subprocess.run([ffmpeg(), "-v", "error", "-f", "lavfi", "-i", "color=c=orange:size=64x48", "-frames:v", "1", "-y",
                    str(where / "still.png")], check=True)


def small_examples(dest: Path) -> Path:
    """The examples, with generated footage at 320x180 (the steps unchanged)."""
    shutil.copytree(EXAMPLES, dest, ignore=shutil.ignore_patterns("out", ".nemoflow"))
    for path in [*dest.glob("*.nemo"), *dest.glob("include/*.nemo")]:
        text = path.read_text(encoding="utf-8")
        path.write_text(re.sub(r"^(\s*media\b.*?\bsize )(4k|1080p|720p)\b", r"\g<1>320x180", text, flags=re.M), encoding="utf-8")
    return dest


def probe(path: Path) -> tuple[tuple[int, int], float] | None:
    import av

    try:
        with av.open(str(path)) as box:
            video = box.streams.video[0]
            return (video.width, video.height), float(box.duration / av.time_base)
    except (OSError, av.error.FFmpegError, IndexError):
        return None


def outputs_ok(base: Path, outputs: dict[str, tuple[tuple[int, int], float | None]]) -> list[str]:
    """What is wrong with the outputs (empty: every one exists with its size and length)."""
    wrong = []
    for rel, (size, seconds) in outputs.items():
        got = probe(base / rel)
        if got is None:
            wrong.append(f"{rel}: missing or unreadable")
        elif got[0] != size or (seconds is not None and abs(got[1] - seconds) > 0.15):
            wrong.append(f"{rel}: {got[0][0]}x{got[0][1]} {got[1]:.2f}s, expected {size[0]}x{size[1]}"
                         + (f" {seconds:.2f}s" if seconds is not None else ""))
    return wrong


class Service:
    """The fake, in this process (its log and job counts are read directly), for one variant."""

    def __init__(self, root: Path, variant: str, chaos: bool, **more: Any) -> None:
        from nemoflow.testing.fake_nemo import FakeNemo, variant_quirks

        self.fake = FakeNemo(root, variant_quirks(variant, chaos=chaos, seed=11, **more)).start()
        self.fake.add_user_token(TOKEN)

    def env(self, work: Path, cache: Path) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEMO_", "NEMOFLOW_"))}
        config = work / "config"
        config.mkdir(parents=True, exist_ok=True)
        env.update({"NEMO_API_URL": self.fake.url, "NEMO_TOKEN": TOKEN, "NEMOFLOW_CONFIG": str(config / "config.toml"),
                    "NEMOFLOW_CACHE_DIR": str(cache), "NEMOFLOW_POLL_INTERVAL": "0.05", "NEMOFLOW_RETRY_WAIT": "0.01",
                    "NEMOFLOW_RATE_LIMIT_WAIT": "0.05"})
        return env

    def counts(self) -> tuple[int, int, int]:
        """(requests logged, render jobs created, duplicates: jobs beyond one per distinct draft body).

        A job that ended `failed` made nothing to pay for twice: rendering that draft again is a retry, not a duplicate."""
        bodies = [json.dumps(b, sort_keys=True) for b in self.fake.render_bodies(failed=False)]
        time.sleep(0.2)  # the fake logs a request after answering it
        return len(self.fake.log), self.fake.jobs_created(), len(bodies) - len(set(bodies))

    def stop(self) -> None:
        self.fake.stop()


def run(recipe: Path, args: tuple[str, ...], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "nemoflow", "run", str(recipe), "--engine", "nemo", "--json", *args]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def case(service: Service, name: str, recipe: Path, args: tuple[str, ...], outputs: dict, env: dict[str, str],
         expect_exit: int = 0, must_say: str | None = None) -> dict[str, Any]:
    """One run, measured: exit, outputs, requests, renders, duplicates; PASS only if it ran and made what it should."""
    before = service.counts()
    t0 = time.monotonic()
    try:
        done = run(recipe, args, env)
        code, err = done.returncode, done.stdout + done.stderr  # with --json, what nemoflow says is in the events
    except subprocess.TimeoutExpired:
        code, err = -1, "timed out"
    seconds = time.monotonic() - t0
    after = service.counts()
    problems = [] if code == expect_exit else [f"exit {code}, expected {expect_exit}: {err.strip().splitlines()[-1:] }"]
    if expect_exit == 0:
        problems += outputs_ok(recipe.parent, outputs)
    if must_say is not None and must_say not in err:
        problems.append(f"did not say “{must_say}”")
    renders = after[1] - before[1]
    duplicates = after[2] - before[2]
    if duplicates:
        problems.append(f"{duplicates} duplicate render(s)")
    return {"case": name, "exit": code, "seconds": round(seconds, 2), "requests": after[0] - before[0], "renders": renders,
            "duplicates": duplicates, "problems": problems, "verdict": "FAIL" if problems else "PASS"}


def variant_cases(work: Path, variant: str, chaos: bool, cache: Path, examples: bool) -> list[dict[str, Any]]:
    service = Service(work / "fake", variant, chaos)
    try:
        env = service.env(work, cache)
        chain = work / "chain"
        make_media(chain)
        (chain / "r.nemo").write_text(CHAIN, encoding="utf-8")
        rows = [case(service, "chain", chain / "r.nemo", (), CHAIN_OUT, env),
                case(service, "chain, unchanged re-run", chain / "r.nemo", (), CHAIN_OUT, env),
                case(service, "chain, second ask changed", chain / "r.nemo", ("--set", "closing=Ciao"), CHAIN_OUT, env,
                     must_say="asking ask.polish again")]
        if examples:
            where = small_examples(work / "examples")
            rows += [case(service, name, where / name, args, outputs, env) for name, args, outputs in EXAMPLE_RUNS]
        return rows
    finally:
        service.stop()


RECOVERY = """nemo 1
media clip = "clip.mp4"
edit cut {
  video clip from 0s to 2s
  title "Hi" from 0s to 1s
}
export final = cut {
  size 320x180
  save "out/final.mp4"
}
"""


def recovery_cases(work: Path, unknown: str, cache: Path) -> list[dict[str, Any]]:
    rows = []
    out = {"out/final.mp4": ((320, 180), 2.0)}
    for kind in ("failed render", "die after persist"):
        where = work / kind.replace(" ", "-")
        service = Service(where / "fake", "url", False, unknown_render=unknown)
        try:
            env = service.env(where, cache)
            make_media(where / "p")
            recipe = where / "p" / "r.nemo"
            recipe.write_text(RECOVERY, encoding="utf-8")
            if kind == "failed render":
                service.fake.quirks.fail_renders = True
            else:
                service.fake.quirks.lose_render_posts = 10_000
            rows.append(case(service, f"{kind} (unknown: {unknown}): the failing run", recipe, (), out, env, expect_exit=1))
            service.fake.quirks.fail_renders, service.fake.quirks.lose_render_posts = False, 0
            said = "unknown to the service" if kind == "die after persist" else None
            rows.append(case(service, f"{kind} (unknown: {unknown}): the next run", recipe, (), out, env, must_say=said))
            third = case(service, f"{kind} (unknown: {unknown}): a third run", recipe, (), out, env)
            if third["renders"]:
                third["problems"].append("rendered again although nothing changed")
                third["verdict"] = "FAIL"
            rows.append(third)
        finally:
            service.stop()
    return rows


def main(argv: list[str] | None = None) -> int:
    from nemoflow.testing.fake_nemo import CHAOS, VARIANTS

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of tables")
    parser.add_argument("--only", choices=sorted(VARIANTS), action="append", help="run these variants only (repeatable)")
    parser.add_argument("--no-examples", action="store_true", help="the chain only (fast)")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    args = parser.parse_args(argv)
    work = args.keep or Path(tempfile.mkdtemp(prefix="nemo-variants-"))
    cache = work / "cache"  # generated sources, encoded once for every case
    report: dict[str, Any] = {"chaos": CHAOS, "variants": {}, "recovery": []}
    try:
        for variant in args.only or list(VARIANTS):
            for chaos in (False, True):
                label = f"{variant}{' + chaos' if chaos else ''}"
                print(f"… {label}", file=sys.stderr, flush=True)
                report["variants"][label] = variant_cases(work / label.replace(" ", ""), variant, chaos, cache, not args.no_examples)
        for unknown in ("404", "code"):
            print(f"… recovery, unknown render as {unknown}", file=sys.stderr, flush=True)
            report["recovery"] += recovery_cases(work / f"recovery-{unknown}", unknown, cache)
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    rows = [r for per in report["variants"].values() for r in per] + report["recovery"]
    report["total"] = {"cases": len(rows), "passed": sum(r["verdict"] == "PASS" for r in rows),
                       "duplicates": sum(r["duplicates"] for r in rows)}
    if args.json:
        print(json.dumps(report, indent=1))
    else:
        table = [[label, r["case"], str(r["exit"]), f"{r['seconds']:.1f}", str(r["requests"]), str(r["renders"]), str(r["duplicates"]),
                  r["verdict"]] for label, per in report["variants"].items() for r in per]
        print_table("The cloud engine under every reading of the contract", ["variant", "case", "exit", "s", "requests", "renders",
                    "duplicates", "verdict"], table, right=("exit", "s", "requests", "renders", "duplicates"), width=140)
        print_table("Recovery", ["case", "exit", "s", "requests", "renders", "duplicates", "verdict"],
                    [[r["case"], str(r["exit"]), f"{r['seconds']:.1f}", str(r["requests"]), str(r["renders"]), str(r["duplicates"]),
                      r["verdict"]] for r in report["recovery"]], right=("exit", "s", "requests", "renders", "duplicates"), width=140)
        for r in rows:
            for problem in r["problems"]:
                print(f"FAIL {r['case']}: {problem}")
        t = report["total"]
        print(f"{t['passed']}/{t['cases']} cases passed; {t['duplicates']} duplicate renders")
    return 0 if report["total"]["passed"] == report["total"]["cases"] else 1


if __name__ == "__main__":
    sys.exit(main())
