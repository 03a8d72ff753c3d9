"""Nemo engine: a cloud run's total time against the render it waits for, and the memory a 400 MB upload costs, in one run.

The two figures of the issue "The nemo engine", each a ratio to a reference
measured in the same run, interleaved round-robin, medians of --rounds rounds:

  nemoflow run --engine nemo, total wall clock, over (R + P)        <= 1.10
      R = the fake service's render time for that very run, P = the poll interval
  peak RSS growth of NemoClient.upload_file() of a 400 MB file      <= 50 MB
      (beside Path.read_bytes() of the same file: what a non-streaming upload would cost)

The service is nemoflow's protocol-faithful fake (nemoflow.testing.fake_nemo),
started once as a SEPARATE PROCESS on 127.0.0.1, so its FFmpeg renders, upload
probes and disk writes do not share nemoflow's process (they do share the
machine's cores: on 2 cores the fake's render competes with nothing of
nemoflow's, which only polls meanwhile).

1. Total run time. A 4 s 640x360 30 fps clip with a 440 Hz tone is made with
   FFmpeg beforehand, so nothing is encoded locally in the measured run. The
   recipe: `media clip = "clip.mp4"`, an `edit` (video 0s to 3s, a title),
   `ask graded = cut "color grade it"`, a 640x360 export and an `expect`
   block (size, duration, audio). Each round runs
   `nemoflow run recipe.nemo --engine nemo --json --state-dir <new dir>` as a
   subprocess, timed wall clock from launch to exit: Python start-up, the
   upload, both messages, the cloud render, polling, the download and the
   checks. The fake renders with a floor of --render-seconds (default 5) and
   30 % of its edit streams end with no text (--silent-rate 0.3); nemoflow
   polls every P = --poll seconds (NEMOFLOW_POLL_INTERVAL, default 2).
   R is the fake's own figure for that run's render, from creation to
   completion: the `elapsed` field of its render status answer, read after
   the run with the anonymous token in that run's temp credentials file (the
   token is never printed). The render id is in the export's `step-finished`
   summary. Each run has its own config dir whose credentials file already
   holds an anonymous token (fetched by this script, untimed): a returning
   user's run, and full credits (the fake gives 100, a render costs 10).
   Where the rest (total - R) went comes from the run's --json events:
   start-up (launch to `run-started`), plan, each step, and in the export the
   wait from the render POST (the render id is its wall clock in ms) to the
   poll that saw `completed`, less R; then download, the checks, and exit
   (last event to process exit: interpreter shutdown).
   Why a 5 s floor and not 6: nemoflow polls right after the render POST and
   then every P, so with a floor that is a multiple of P the render ends
   within tens of ms of a poll, and rounds flip between the best case (seen
   at once) and the worst (seen one whole P later). 5 s ends it half-way
   between two polls, the average case, so rounds agree. Either way each
   run's poll wait is measured, and the rest (total - R - poll wait: start-up,
   the other steps, exit, and the fake's answer times) is reported with the
   ratio the run would give in the worst phase, 1 + rest / (R + P): the
   phase-independent reading of the target.
   Reference in the same rounds: `nemoflow check recipe.nemo`, nemoflow's
   start-up and parse with no service involved.
2. Upload memory. A 400,000,000-byte WAV (a valid RIFF/WAVE header for 48 kHz
   stereo s16, then zeros: written as a header and `truncate`d, a sparse file)
   and a 0.1 s WAV. A child Python process per measurement, so the numbers
   are its own: it imports nemoflow's client, creates a session on the fake,
   uploads the tiny WAV (imports, connection and token warmed), records
   ru_maxrss (the peak RSS, KiB on Linux), then either uploads the 400 MB WAV
   with NemoClient.upload_file (as the engine does, with a progress callback)
   or reads it whole with Path.read_bytes() (the reference: same child, same
   warm-up), and records ru_maxrss again. Growth = after - before, in MB
   (10^6 bytes). The reference shows the measurement would see a
   non-streaming upload (growth ~400 MB). Throughput is the upload's end to
   end rate: bytes / seconds until the fake's answer, which includes the
   fake writing the body to disk, copying the part out and probing it.
   The two children swap order every round; the fake's stored copy is deleted
   after each upload. Each child is started by `/bin/sh -c '"$@"; exit $?'`,
   a shell that forks it: on Linux ru_maxrss survives exec, so a child
   exec'd straight from this process would start with this process's peak
   (~45 MB) as its own and hide growth below it; the shell's is ~1 MB.
   VmHWM (/proc/self/status, the address space's own peak) is recorded too,
   as a cross-check.

Everything lives in a temp dir: NEMOFLOW_CONFIG points at an empty config.toml
there (so credentials are stored there, never in the real home), NEMO_TOKEN is
removed (the engine uses an anonymous token from the fake), NEMOFLOW_CACHE_DIR
is there too, and NEMOFLOW_RETRY_WAIT is short. The command measured is the
`nemoflow` console script beside this interpreter (PATH may hold a wrapper,
such as a pyenv shim, whose start-up is not nemoflow's), else PATH's. One
untimed `nemoflow check` and `nemoflow run` come first (page cache, compiled
modules). If PYTHONDONTWRITEBYTECODE is set (an editable install then
recompiles nemoflow's modules on every start, which no installed copy does),
the processes measured get PYTHONPYCACHEPREFIX=<temp dir>/pycache instead,
compiled once by that warm-up.

    python benchmarks/nemo_speed.py [--json] [--rounds 3] [--render-seconds 5] [--poll 2] [--keep DIR]

Exit 0 always: this reports, it does not assert. Each target row says PASS or
FAIL; a figure that could not be measured says n/a, with the error below the table.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import platform
import re
import select
import shutil
import signal
import statistics
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from table import print_table as show_table  # benchmarks/ is sys.path[0] when a script here runs

BIG_BYTES = 400_000_000
MB = 1_000_000
CLIP_SECONDS, CLIP_SIZE = 4, "640x360"
SCRUBBED_ENV = ("NEMO_TOKEN", "NEMOFLOW_STATE_DIR", "NEMOFLOW_JOBS", "NEMOFLOW_DEBUG", "NEMOFLOW_ENGINE", "NEMOFLOW_FFMPEG",
                "NEMOFLOW_SSE_TIMEOUT", "NEMOFLOW_HEARTBEAT_NOTICE", "NEMOFLOW_RATE_LIMIT_WAIT", "NEMOFLOW_LANGUAGE")
TARGETS = {"run_ratio": 1.10, "upload_growth_mb": 50.0}  # both "<="
RUN_TIMEOUT, CHILD_TIMEOUT = 180, 600

RECIPE = f"""nemo 1

media clip = "clip.mp4"

edit cut {{
  video clip from 0s to 3s
  title "Nemo" from 0s to 2s
}}

ask graded = cut "color grade it"

export final = graded {{
  size {CLIP_SIZE}
  save "out/final.mp4"
}}

expect final {{
  size == {CLIP_SIZE}
  duration ~= 3s
  has audio
}}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


class Failed(Exception):
    pass


def tail(text: str, lines: int = 20) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# ---------------------------------------------------------------- inputs


def make_clip(path: Path) -> Path:
    from nemoflow.media.ffmpeg import ffmpeg_exe

    d = CLIP_SECONDS
    cmd = [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y",
           "-f", "lavfi", "-i", f"testsrc2=s={CLIP_SIZE}:r=30:d={d}",
           "-f", "lavfi", "-i", f"sine=frequency=440:sample_rate=48000:duration={d}",
           "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-b:a", "96k", "-shortest", str(path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise Failed(f"making the test clip failed:\n{tail(proc.stderr)}")
    return path


def wav_header(data_bytes: int, rate: int = 48000, channels: int = 2, bits: int = 16) -> bytes:
    block = channels * bits // 8
    return (b"RIFF" + struct.pack("<I", 36 + data_bytes) + b"WAVE"
            + b"fmt " + struct.pack("<IHHIIHH", 16, 1, channels, rate, rate * block, block, bits)
            + b"data" + struct.pack("<I", data_bytes))


def make_wav(path: Path, total_bytes: int) -> Path:
    """A valid 48 kHz stereo s16 WAV of exactly total_bytes: the header, then zeros (truncate: sparse, instant)."""
    data = (total_bytes - 44) // 4 * 4
    with open(path, "wb") as fh:
        fh.write(wav_header(data))
        fh.truncate(44 + data)
    return path


# ---------------------------------------------------------------- the fake, in its own process


class FakeProcess:
    def __init__(self, root: Path, env: dict[str, str], log_path: Path, *, render_seconds: float, silent_rate: float) -> None:
        self.log_path = log_path
        self._log = open(log_path, "wb")  # closed in stop()
        cmd = [sys.executable, "-m", "nemoflow.testing.fake_nemo", "--root", str(root), "--port", "0",
               "--render-seconds", f"{render_seconds:g}", "--silent-rate", f"{silent_rate:g}"]
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=self._log,
                                     start_new_session=True)  # its own group: its FFmpeg children go with it
        self.url = self._wait_for_url(30.0)

    def _wait_for_url(self, timeout: float) -> str:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline().decode(errors="replace").strip() if ready else ""
        m = re.fullmatch(r"listening on (http://127\.0\.0\.1:\d+)", line)
        if not m:
            self.stop()
            raise Failed(f"the fake did not start (said {line!r}):\n{tail(self.log_path.read_text(errors='replace'))}")
        return m.group(1)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()  # SIGTERM: the fake stops its server and kills its FFmpeg processes
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)  # the group of the process this benchmark started
                self.proc.wait(5)
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self._log.close()


def credentials_dir(where: Path, api: str) -> Path:
    """A new config dir (empty config.toml) whose credentials file already holds an anonymous token from the fake.

    Each measured run gets its own, so it starts as a returning user does (a stored token, full credits: the fake
    gives an anonymous token 100 credits and a render costs 10), without the one-off token request in its time.
    """
    from nemoflow.engines.nemo.client import NemoClient
    from nemoflow.engines.nemo.credentials import CredentialStore
    from nemoflow.engines.nemo.settings import NemoSettings
    from nemoflow.errors import NemoflowError

    where.mkdir(parents=True)
    (where / "config.toml").write_text("")
    try:
        with NemoClient(NemoSettings(api_url=api, retry_wait=0.2), CredentialStore(where / "credentials.json")) as client:
            client.token()  # NEMO_TOKEN is not in this process's environment (main removes it), so this fetches and stores one
    except NemoflowError as err:
        raise Failed(f"getting an anonymous token from the fake: {err}") from None
    return where


def stored_token(config_dir: Path, api: str) -> str | None:
    from nemoflow.engines.nemo.credentials import CredentialStore

    token = CredentialStore(config_dir / "credentials.json").token(api, "anonymous")
    return token.value if token else None


def render_elapsed(api: str, token: str, rid: str) -> float:
    """The fake's `elapsed` for render `rid` (seconds from its creation to completion)."""
    import httpx

    from nemoflow.engines.nemo import contract

    resp = httpx.get(api + contract.RENDER_STATUS.format(id=rid), headers={"Authorization": f"Bearer {token}"}, timeout=10)
    body = resp.json() if resp.headers.get("content-type", "").startswith("application/json") else {}
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict) or data.get("status") != "completed" or not isinstance(data.get("elapsed"), (int, float)):
        raise Failed(f"render status of {rid}: HTTP {resp.status_code}, code {body.get('code') if isinstance(body, dict) else None}, "
                     f"data {data!r}")
    return float(data["elapsed"])


# ---------------------------------------------------------------- 1. total run time


def event_time(event: dict[str, Any]) -> float:
    return dt.datetime.fromisoformat(event["t"].replace("Z", "+00:00")).timestamp()


STAGES = ("start-up", "plan", "upload", "edit", "ask", "export prep", "poll wait", "download+save", "expect", "exit")


def one_run(nemoflow: str, work: Path, env: dict[str, str], state: Path, api: str, config_dir: Path) -> dict[str, Any]:
    """One timed `nemoflow run --engine nemo` (credentials in config_dir), its events, R from the fake, and where the time went."""
    shutil.rmtree(work / "out", ignore_errors=True)
    env = {**env, "NEMOFLOW_CONFIG": str(config_dir / "config.toml")}
    cmd = [nemoflow, "run", "recipe.nemo", "--engine", "nemo", "--json", "--state-dir", str(state)]
    launched = time.time()
    start = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise Failed(f"nemoflow run did not finish within {RUN_TIMEOUT} s") from None
    total = time.perf_counter() - start
    exited = time.time()
    if proc.returncode != 0:
        raise Failed(f"nemoflow run exited {proc.returncode}:\n{tail(proc.stderr)}")
    try:
        events = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
        started = {e["step"]: event_time(e) for e in events if e["event"] == "step-started"}
        finished = {e["step"]: e for e in events if e["event"] == "step-finished"}
        run_started = next(event_time(e) for e in events if e["event"] == "run-started")
        run_finished = next(e for e in events if e["event"] == "run-finished")
    except (ValueError, KeyError, StopIteration) as exc:
        raise Failed(f"nemoflow run's --json events are not as expected ({type(exc).__name__}: {exc})") from None
    if set(started) != {"media.clip", "edit.cut", "ask.graded", "export.final", "expect.final"} or set(finished) != set(started):
        raise Failed(f"nemoflow run ran {sorted(started)} and finished {sorted(finished)}, expected the recipe's 5 steps")
    if run_finished.get("status") != "ok" or run_finished.get("checks", {}).get("failed") or not (work / "out" / "final.mp4").is_file():
        raise Failed(f"nemoflow run did not render and check out/final.mp4: {run_finished}")
    summary = finished["export.final"].get("summary", "")
    m = re.search(r"render_\d+", summary)
    if not m:
        raise Failed(f"no render id in the export's summary {summary!r}")
    token = stored_token(config_dir, api)
    if token is None:
        raise Failed("the run stored no anonymous token in the temp credentials file")
    r = render_elapsed(api, token, m.group(0))
    posted = int(m.group(0).split("_")[1]) / 1000  # the id is the wall clock (ms) just before the render POST
    done = [event_time(e) for e in events if e["event"] == "step-progress" and e.get("step") == "export.final"
            and "completed" in str(e.get("phase", ""))]
    export_end = event_time(finished["export.final"])
    seen = done[-1] if done else export_end  # when nemoflow learnt the render had completed

    def fin(step: str) -> float:
        return event_time(finished[step])

    stages = {
        "start-up": run_started - launched,  # process launch, imports, config, to the run-started event
        "plan": started["media.clip"] - run_started,
        "upload": fin("media.clip") - started["media.clip"],
        "edit": fin("edit.cut") - fin("media.clip"),
        "ask": fin("ask.graded") - fin("edit.cut"),
        "export prep": posted - fin("ask.graded"),  # the export step's start, its draft, the render id
        "poll wait": seen - posted - r,  # the render POST's transit, then the wait for the poll that sees it completed
        "download+save": export_end - seen,
        "expect": fin("expect.final") - export_end,
        "exit": exited - fin("expect.final"),  # run-finished, the summary, interpreter shutdown
    }
    return {"total_s": total, "render_s": r, "render_id": m.group(0), "stages": stages,
            "rest_s": total - r - stages["poll wait"], "summary": proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""}


def one_check(nemoflow: str, work: Path, env: dict[str, str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run([nemoflow, "check", "recipe.nemo"], cwd=work, env=env, stdin=subprocess.DEVNULL, capture_output=True,
                          text=True, errors="replace", check=False)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        raise Failed(f"nemoflow check exited {proc.returncode}:\n{tail(proc.stderr)}")
    return seconds


# ---------------------------------------------------------------- 2. upload memory (the child's side)


def child(mode: str, big: Path, tiny: Path) -> int:
    """In a fresh process: warm up (session, tiny upload), then upload or read the big file; print one JSON line."""
    import gc
    import resource

    from nemoflow.engines.nemo.client import NemoClient
    from nemoflow.engines.nemo.settings import NemoSettings

    def peak_kib() -> int:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    def status_kib(field: str) -> int:  # VmRSS: resident now; VmHWM: this address space's peak (Linux; 0 elsewhere)
        status = Path("/proc/self/status")
        m = re.search(rf"^{field}:\s+(\d+) kB", status.read_text(), re.M) if status.exists() else None
        return int(m.group(1)) if m else 0

    at_import = peak_kib()
    sent = [0]

    def on_progress(done: int, total: int) -> None:
        sent[0] = done

    with NemoClient(NemoSettings.load()) as client:
        sid = client.create_session()
        client.upload_file(sid, tiny, on_progress)
        gc.collect()
        before, resident, hwm_before = peak_kib(), status_kib("VmRSS"), status_kib("VmHWM")
        start = time.perf_counter()
        if mode == "upload":
            info = client.upload_file(sid, big, on_progress)
            size = big.stat().st_size
            url = info["url"]
        else:
            size = len(big.read_bytes())
            url = None
        seconds = time.perf_counter() - start
        after, hwm_after = peak_kib(), status_kib("VmHWM")
    print(json.dumps({"mode": mode, "at_import_kib": at_import, "before_kib": before, "resident_before_kib": resident,
                      "after_kib": after, "hwm_before_kib": hwm_before, "hwm_after_kib": hwm_after, "bytes": size,
                      "seconds": seconds, "progress_bytes": sent[0], "url": url}))
    return 0


def run_child(mode: str, big: Path, tiny: Path, env: dict[str, str], fake_root: Path) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", mode, str(big), str(tiny)]
    if Path("/bin/sh").exists():  # a shell that forks the child: see the module docstring (ru_maxrss survives exec)
        cmd = ["/bin/sh", "-c", '"$@"; exit $?', "sh", *cmd]
    try:
        proc = subprocess.run(cmd, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True, errors="replace",
                              timeout=CHILD_TIMEOUT, check=False)
    except subprocess.TimeoutExpired:
        raise Failed(f"the {mode} child did not finish within {CHILD_TIMEOUT} s") from None
    finally:
        for stored in (fake_root / "files").glob(f"*/{big.name}"):  # the fake's copy of the big file: 400 MB of disk
            shutil.rmtree(stored.parent, ignore_errors=True)
    if proc.returncode != 0:
        raise Failed(f"the {mode} child exited {proc.returncode}:\n{tail(proc.stderr)}")
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["growth_mb"] = (out["after_kib"] - out["before_kib"]) * 1024 / MB
    out["mb_per_s"] = out["bytes"] / MB / out["seconds"] if out["seconds"] > 0 else None
    return out


# ---------------------------------------------------------------- report


def med(values: list[float]) -> float:
    return statistics.median(values)


def ffmpeg_version() -> str:
    from nemoflow.media.ffmpeg import ffmpeg_exe

    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-version"], capture_output=True, text=True, check=False).stdout
    m = re.match(r"ffmpeg version (\S+)", out)
    return m.group(1) if m else "unknown"


def run_figures(runs: list[dict[str, Any]], checks: list[float], poll: float) -> dict[str, Any]:
    total = med([r["total_s"] for r in runs])
    r = med([x["render_s"] for x in runs])
    ratios = [x["total_s"] / (x["render_s"] + poll) for x in runs]
    rest = med([x["rest_s"] for x in runs])
    return {
        "total_s": round(total, 3), "render_s": round(r, 3), "poll_s": poll, "budget_s": round((r + poll) * 1.10, 3),
        "ratio": round(med(ratios), 4), "ratios": [round(x, 4) for x in ratios],
        "not_rendering_s": round(med([x["total_s"] - x["render_s"] for x in runs]), 3),
        "stages_s": {k: round(med([x["stages"][k] for x in runs]), 3) for k in STAGES},
        "rest_s": round(rest, 3), "rest_allowance_s": round(0.10 * (r + poll), 3),
        "worst_phase_ratio": round(med([1 + x["rest_s"] / (x["render_s"] + poll) for x in runs]), 4),
        "check_s": round(med(checks), 3), "checks": [round(c, 3) for c in checks],
        "runs": [{"total_s": round(x["total_s"], 3), "render_s": round(x["render_s"], 3), "render_id": x["render_id"],
                  "rest_s": round(x["rest_s"], 3), "stages_s": {k: round(v, 3) for k, v in x["stages"].items()}} for x in runs],
        "last_summary": runs[-1]["summary"],
    }


def upload_figures(uploads: list[dict[str, Any]], reads: list[dict[str, Any]]) -> dict[str, Any]:
    growth, ref = med([u["growth_mb"] for u in uploads]), med([x["growth_mb"] for x in reads])
    return {
        "bytes": BIG_BYTES, "growth_mb": round(growth, 2), "reference_growth_mb": round(ref, 2),
        "growth_vs_reference": round(growth / ref, 4) if ref > 0 else None,
        "mb_per_s": round(med([u["mb_per_s"] for u in uploads]), 1), "upload_s": round(med([u["seconds"] for u in uploads]), 3),
        "read_s": round(med([x["seconds"] for x in reads]), 3),
        "before_mb": round(med([u["before_kib"] for u in uploads]) * 1024 / MB, 1),
        "at_import_mb": round(med([u["at_import_kib"] for u in uploads]) * 1024 / MB, 1),
        "hwm_growth_mb": round(med([(u["hwm_after_kib"] - u["hwm_before_kib"]) * 1024 / MB for u in uploads]), 2),
        "reference_hwm_growth_mb": round(med([(x["hwm_after_kib"] - x["hwm_before_kib"]) * 1024 / MB for x in reads]), 2),
        "uploads": [{k: u[k] for k in ("at_import_kib", "before_kib", "resident_before_kib", "after_kib", "hwm_before_kib", "hwm_after_kib",
                                       "seconds", "growth_mb", "mb_per_s", "bytes", "progress_bytes")} for u in uploads],
        "reads": [{k: x[k] for k in ("at_import_kib", "before_kib", "after_kib", "hwm_before_kib", "hwm_after_kib", "seconds", "growth_mb")}
                  for x in reads],
    }


def verdict(key: str, value: float | None) -> str:
    return "n/a" if value is None else "PASS" if value <= TARGETS[key] else "FAIL"


def print_report(report: dict[str, Any]) -> None:
    rows: list[tuple[str, ...]] = []
    n = str(report["rounds"])
    run, up = report.get("run"), report.get("upload")
    if run is not None:
        p = run["poll_s"]
        stages = ", ".join(f"{k} {v:.2f}" for k, v in run["stages_s"].items())
        rows += [
            ("nemoflow check recipe.nemo (start-up, reference)", f"{run['check_s']:.2f} s", n, "", "", ""),
            ("fake's render time R (status `elapsed`)", f"{run['render_s']:.2f} s", n,
             f"floor {report['render_seconds']:g} s, a 3 s {CLIP_SIZE} render", "", ""),
            ("poll interval P (NEMOFLOW_POLL_INTERVAL)", f"{p:.2f} s", "", "", "", ""),
            ("nemoflow run --engine nemo, total (wall clock)", f"{run['total_s']:.2f} s", n,
             f"total / (R + P) = {run['ratio']:.3f}; budget (R + P) x 1.10 = {run['budget_s']:.2f} s", "<= 1.10",
             verdict("run_ratio", run["ratio"])),
            ("  total - R (not rendering)", f"{run['not_rendering_s']:.2f} s", n, stages, "", ""),
            ("  the rest (total - R - poll wait)", f"{run['rest_s']:.2f} s", n,
             f"10 % of (R + P) = {run['rest_allowance_s']:.2f} s; ratio if the poll wait were a whole P: {run['worst_phase_ratio']:.3f}",
             "", "info"),
        ]
    else:
        rows.append(("nemoflow run --engine nemo, total / (R + P)", "-", "0", "not measured (see below)", "<= 1.10", "n/a"))
    if up is not None:
        mb = BIG_BYTES / MB
        rows += [
            (f"Path.read_bytes() of the {mb:.0f} MB WAV (reference)", f"{up['reference_growth_mb']:+.1f} MB", n,
             f"peak RSS growth; {up['read_s']:.2f} s", "", ""),
            (f"NemoClient.upload_file() of the {mb:.0f} MB WAV", f"{up['growth_mb']:+.1f} MB", n,
             f"peak RSS growth, {up['growth_vs_reference'] or 0:.3f} of the reference; {up['mb_per_s']:.0f} MB/s end to end "
             f"({up['upload_s']:.2f} s); peak before {up['before_mb']:.0f} MB", "<= 50 MB", verdict("upload_growth_mb", up["growth_mb"])),
        ]
    else:
        rows.append(("NemoClient.upload_file() of 400 MB, peak RSS growth", "-", "0", "not measured (see below)", "<= 50 MB", "n/a"))
    machine = report["machine"]
    title = (f"nemo engine benchmark, {report['rounds']} interleaved round(s), medians; fake service in its own process; "
             f"FFmpeg {machine['ffmpeg']}, {machine['cpu_count']} CPUs")
    show_table(title, ("case", "median", "runs", "detail", "target", "result"), rows, right=("median", "runs"), width=200)
    print()
    for line in report["notes"]:
        print(f"- {line}")
    print(f"\noverall: {'PASS' if report['pass'] else 'FAIL'} ({report['total_s']:.0f} s)")


# ---------------------------------------------------------------- main


def nemoflow_command() -> str | None:
    """The console script pip installed beside this interpreter; else the one on PATH.

    PATH may hold a wrapper (a pyenv shim is a bash script that runs `pyenv exec`, ~50 ms per start) that is no
    part of nemoflow's start-up.
    """
    beside = Path(sys.executable).with_name("nemoflow")
    return str(beside) if beside.is_file() and os.access(beside, os.X_OK) else shutil.which("nemoflow")


def main() -> int:
    if len(sys.argv) == 5 and sys.argv[1] == "--child":  # the upload-memory child (see run_child)
        return child(sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4]))
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print one JSON object instead of a table")
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians reported); default 3")
    parser.add_argument("--render-seconds", type=float, default=5.0, help="the fake's render floor; default 5 (see above)")
    parser.add_argument("--poll", type=float, default=2.0, help="NEMOFLOW_POLL_INTERVAL for the runs measured; default 2")
    parser.add_argument("--keep", metavar="DIR", type=Path, help="work dir to use and keep (default: a temp dir, removed)")
    args = parser.parse_args()
    if args.rounds < 1:
        parser.error("--rounds must be at least 1")
    if args.render_seconds < 0 or args.poll <= 0:
        parser.error("--render-seconds must be >= 0 and --poll > 0")
    nemoflow = nemoflow_command()
    if nemoflow is None:
        raise SystemExit("install nemoflow first: pip install -e .")
    os.environ.pop("NEMO_TOKEN", None)  # this process fetches anonymous tokens for the runs (credentials_dir)
    if args.keep:
        work = args.keep.resolve()
        if work.exists() and any(work.iterdir()):
            parser.error(f"--keep {work}: give a new or empty directory")
        work.mkdir(parents=True, exist_ok=True)
    else:
        work = Path(tempfile.mkdtemp(prefix="nemoflow-nemo-bench-"))
    fakes: list[FakeProcess] = []
    try:
        return measure(args, work, nemoflow, fakes)
    except Failed as exc:  # setup failed (the clip, the fake): nothing measured, said so; still exit 0 (see above)
        log(f"nemo benchmark: nothing measured: {exc}")
        return 0
    finally:
        for fake in fakes:
            fake.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def measure(args: argparse.Namespace, work: Path, nemoflow: str, fakes: list[FakeProcess]) -> int:
    began = time.perf_counter()
    configs = work / "config"
    configs.mkdir()
    (configs / "config.toml").write_text("")  # the fake's; each run and the upload children get their own (credentials_dir)
    env = {k: v for k, v in os.environ.items() if k not in SCRUBBED_ENV}
    env.update(NEMOFLOW_CONFIG=str(configs / "config.toml"), NEMOFLOW_POLL_INTERVAL=f"{args.poll:g}",
               NEMOFLOW_CACHE_DIR=str(work / "cache"), NEMOFLOW_RETRY_WAIT="0.2")
    pyc_note = "compiled modules: as this environment has them"
    if env.pop("PYTHONDONTWRITEBYTECODE", None) is not None and "PYTHONPYCACHEPREFIX" not in env:
        env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
        pyc_note = ("PYTHONDONTWRITEBYTECODE was set: the processes measured cache compiled modules in PYTHONPYCACHEPREFIX "
                    "(a temp dir, compiled by the warm-up), as an installed copy would have them")
    machine = {"cpu_count": os.cpu_count(), "ffmpeg": ffmpeg_version(), "python": platform.python_version(),
               "platform": platform.platform(), "loadavg_start": [round(x, 2) for x in os.getloadavg()]}
    notes: list[str] = []
    on_path = shutil.which("nemoflow")
    report: dict[str, Any] = {"machine": machine, "rounds": args.rounds, "render_seconds": args.render_seconds, "poll_s": args.poll,
                              "silent_rate": 0.3, "targets": {k: f"<= {v:g}" for k, v in TARGETS.items()}, "run": None, "upload": None}

    log("making the clip, the recipe and the WAVs ...")
    project = work / "project"
    project.mkdir()
    make_clip(project / "clip.mp4")
    (project / "recipe.nemo").write_text(RECIPE)
    big = make_wav(work / "big.wav", BIG_BYTES)
    tiny = make_wav(work / "tiny.wav", 44 + 48000 * 4 // 10)
    fake_root = work / "fake"
    log("starting the fake service (its own process) ...")
    fake = FakeProcess(fake_root, env, work / "fake.log", render_seconds=args.render_seconds, silent_rate=0.3)
    fakes.append(fake)
    env["NEMO_API_URL"] = fake.url

    runs: list[dict[str, Any]] = []
    checks: list[float] = []
    uploads: list[dict[str, Any]] = []
    reads: list[dict[str, Any]] = []
    errors: dict[str, str] = {}
    try:  # warm-up: compiles modules (pycache prefix), fetches the anonymous token, fills the page cache; not counted
        one_check(nemoflow, project, env)
        one_run(nemoflow, project, env, work / "state-warm", fake.url, credentials_dir(configs / "warm", fake.url))
    except Failed as exc:
        errors["run"] = f"warm-up run: {exc}"
    try:
        upload_env = {**env, "NEMOFLOW_CONFIG": str(credentials_dir(configs / "upload", fake.url) / "config.toml")}
    except Failed as exc:
        errors["upload"] = str(exc)
    for round_no in range(args.rounds):
        log(f"round {round_no + 1}/{args.rounds}")
        if "run" not in errors:
            try:
                for which in (("check", "run") if round_no % 2 == 0 else ("run", "check")):
                    if which == "check":
                        checks.append(one_check(nemoflow, project, env))
                    else:
                        state = work / f"state-{round_no}"
                        runs.append(one_run(nemoflow, project, env, state, fake.url,
                                            credentials_dir(configs / f"run-{round_no}", fake.url)))
                        shutil.rmtree(state, ignore_errors=True)
            except Failed as exc:
                errors["run"] = f"round {round_no + 1}: {exc}"
        if "upload" not in errors:
            try:
                for mode in (("upload", "read") if round_no % 2 == 0 else ("read", "upload")):
                    (uploads if mode == "upload" else reads).append(run_child(mode, big, tiny, upload_env, fake_root))
            except Failed as exc:
                errors["upload"] = f"round {round_no + 1}: {exc}"
    machine["loadavg_end"] = [round(x, 2) for x in os.getloadavg()]

    if runs and checks and "run" not in errors:
        report["run"] = run_figures(runs, checks, args.poll)
    if uploads and reads and "upload" not in errors:
        report["upload"] = upload_figures(uploads, reads)
    verdicts = {"run_ratio": verdict("run_ratio", report["run"]["ratio"] if report["run"] else None),
                "upload_growth_mb": verdict("upload_growth_mb", report["upload"]["growth_mb"] if report["upload"] else None)}
    for what, text in errors.items():
        notes.append(f"{what}: FAILED, not measured: {text}")
    if report["run"]:
        run = report["run"]
        notes += [
            "run: 'poll wait' = when nemoflow saw `completed` (its progress event) less the render POST (the render id is "
            "its wall clock in ms) less R; 'export prep' = ask finished to render POST; the rest = total - R - poll "
            f"wait; the worst phase would add P - poll wait (median poll wait {run['stages_s']['poll wait']:.2f} s of "
            f"P = {run['poll_s']:g} s)",
            f"run: per round total / (R + P) = {', '.join(f'{x:.3f}' for x in run['ratios'])}; "
            "R = " + ", ".join(f"{x['render_s']:.2f}" for x in run["runs"]) + f" s; nemoflow said: {run['last_summary']!r}",
            "run: stage medians are taken one by one, so they need not add up to the median total exactly; the stages hold "
            "the fake's answer times too: 'upload' its multipart parse and probe of the clip, 'edit'/'ask' its SSE streams "
            "(events paced 10 ms apart) and state reads; 'exit' is the last event to process exit (interpreter shutdown)",
        ]
    if report["upload"]:
        up = report["upload"]
        notes.append("upload: ru_maxrss before/after (KiB) per upload: "
                     + "; ".join(f"{u['before_kib']}/{u['after_kib']}" for u in up["uploads"])
                     + "; per read: " + "; ".join(f"{x['before_kib']}/{x['after_kib']}" for x in up["reads"])
                     + f"; the child's peak after imports only: {up['at_import_mb']:.0f} MB; cross-checks (medians): VmHWM growth "
                     f"{up['hwm_growth_mb']:+.1f} MB (reference {up['reference_hwm_growth_mb']:+.1f} MB)")
    other = f" (PATH's `nemoflow` is {on_path}, not measured)" if on_path not in (None, nemoflow) else ""
    load = f"load average (1 min) {machine['loadavg_start'][0]:g} at the start, {machine['loadavg_end'][0]:g} at the end"
    notes += [f"command measured: {nemoflow}{other}", pyc_note, load]
    report.update(command=nemoflow, verdicts=verdicts, notes=notes, errors=errors, **{"pass": all(v == "PASS" for v in verdicts.values())},
                  total_s=round(time.perf_counter() - began, 1), work_dir=str(work) if args.keep else None)
    if args.json:
        print(json.dumps(report, indent=2, ensure_ascii=False))
    else:
        print_report(report)
    return 0


if __name__ == "__main__":
    sys.exit(main())
