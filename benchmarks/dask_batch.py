"""What the Dask executor costs on a batch: 40 small exports via a local Dask cluster vs the local executor, same cores.

Issue 18's target: running a batch of small exports through `--executor dask://…` on this machine's cores costs at
most 10% more wall time than the local thread pool:

  median wall(dask) / median wall(local) <= 1.10

The recipe has 40 exports (1280x720, 6 s, draft quality; --size, --seconds), each of a different title so that no
two share a key. The cluster is started once, before timing (a cluster is long-lived; connecting to it, and importing
`distributed`, ~0.4 s, are part of each timed run): a `distributed.LocalCluster` of 2 worker processes x 1 thread,
2 renders at a time, as the local executor runs them on this 2-core machine (its cpu budget is the core count;
--workers, --threads). The cases alternate round by round (local, dask, dask, local, …); each timed `nemoflow run`
is a fresh process with a fresh copy of the project, state dir and cache dir, its `--json` events must show all 40
exports rendered (`ok`, never `cached`), and each output must exist and be newer than the run's start. Smaller
exports show the fixed cost instead: at --size 640x360 --seconds 4 (~5 s for all 40) the ratio was 1.08-1.17, and at
--size 320x180 --seconds 2 (~2 s for all 40) ~0.65 s, about 30%.

    python benchmarks/dask_batch.py [--repeats 3] [--exports 40] [--json]

The scaling case (`--case scaling`): one split 4K export (3840x2160, 20 s, `quality draft`, segments of 5 s: 4
segments, docs/split.md) through a LocalCluster of 1 worker vs 2 workers, each worker pinned to its own core
(os.sched_setaffinity; FFmpeg inherits it), one thread each; interleaved, fresh project and cache per run (no
segment reused: the run's note must say `4 to render, 0 cached`), the output checked readable. Target: speed-up
median(1 worker) / median(2 workers) >= 1.8. The sound is rendered once for the whole programme, as one more part
of the same spread (engines/local/chunked.py), so it runs beside the segments; `--no-sound` (`audio none`)
measures the segments alone.

    python benchmarks/dask_batch.py --case scaling [--repeats 2] [--seconds 20]

The wall case (`--case wall`): the same 4K export (30 s by default) on the local executor with the whole machine,
`--split` (3 segments of 10 s) vs `--no-split`, interleaved, fresh caches; the split run's note must say every
segment was rendered, the single run's must not mention a split. Target: median(split) / median(single) <= 1.10
(what splitting costs where there is no second machine to gain from).

    python benchmarks/dask_batch.py --case wall [--repeats 3] [--seconds 30]

Exit 0 when both cases ran and were checked (PASS or FAIL is printed for the target); exit 1 when a case could not run
or its checks failed (then no PASS is printed for it).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET = 1.10


def recipe(n: int, size: str = "1280x720", seconds: int = 6) -> str:
    lines = ["nemo 1", "", f"media bars = pattern testsrc duration {seconds + 1}s size {size} fps 30", ""]
    for i in range(n):
        lines += [f"edit e{i} {{", f"  video bars for {seconds}s", f'  title "Variant {i}" from 0s to {seconds}s', "}", "",
                  f"export v{i} = e{i} {{", f"  size {size}", "  quality draft", f'  save "out/v{i}.mp4"', "}", ""]
    return "\n".join(lines)


def run_once(work: Path, n: int, executor: str, tag: str, size: str = "1280x720", seconds: int = 6) -> float:
    """One timed `nemoflow run` of a fresh copy; raises if any export did not really render."""
    project = work / tag
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "r.nemo").write_text(recipe(n, size, seconds), encoding="utf-8")
    env = {**os.environ, "NEMOFLOW_CACHE_DIR": str(project / "cache"), "NEMOFLOW_CONFIG": str(project / "none.toml")}
    env.pop("NEMOFLOW_EXECUTOR", None)
    start_wall = time.time()
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(project / "r.nemo"), "--json", "--executor", executor],
                          capture_output=True, text=True, env=env, cwd=project)
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{tag}: nemoflow exited {proc.returncode}: {proc.stderr[-800:]}")
    ends = {e["step"]: e["status"] for e in map(json.loads, proc.stdout.splitlines()) if e.get("event") == "step-finished"}
    exports = {s: st for s, st in ends.items() if s.startswith("export.")}
    if len(exports) != n or set(exports.values()) != {"ok"}:
        raise RuntimeError(f"{tag}: expected {n} exports rendered, got {sorted(set(exports.values()))} for {len(exports)}")
    for i in range(n):
        out = project / "out" / f"v{i}.mp4"
        if not out.is_file() or out.stat().st_mtime < start_wall - 1:
            raise RuntimeError(f"{tag}: {out} was not written by this run")
    shutil.rmtree(project, ignore_errors=True)
    return seconds


SCALING_TARGET = 1.8


def split_recipe(size: str, seconds: int, sound: bool = True) -> str:
    mute = "" if sound else "  audio none\n"
    return (f"nemo 1\n\nmedia bars = pattern testsrc duration {seconds + 1}s size {size} fps 30\n\n"
            f"edit cut {{\n  video bars for {seconds}s\n}}\n\n"
            f"export big = cut {{\n  size {size}\n  quality draft\n{mute}  save \"out/big.mp4\"\n}}\n")


def scaling_once(work: Path, address: str, tag: str, size: str, seconds: int, segments: int, sound: bool) -> float:
    """One timed split render on the cluster at `address` (or `local`; `segments` 0: `--no-split`, and the run must
    not mention a split); raises unless every segment was rendered by this run."""
    project = work / tag
    shutil.rmtree(project, ignore_errors=True)
    project.mkdir(parents=True)
    (project / "r.nemo").write_text(split_recipe(size, seconds, sound), encoding="utf-8")
    env = {**os.environ, "NEMOFLOW_CACHE_DIR": str(project / "cache"), "NEMOFLOW_CONFIG": str(project / "none.toml")}
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(project / "r.nemo"), "--json",
                           "--split" if segments else "--no-split", "--executor", address],
                          capture_output=True, text=True, env=env, cwd=project)
    elapsed = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{tag}: nemoflow exited {proc.returncode}: {proc.stderr[-800:]}")
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    notes = [e.get("text", "") for e in lines if e.get("event") == "step-message"]
    ends = {e["step"]: e["status"] for e in lines if e.get("event") == "step-finished"}
    if ends.get("export.big") != "ok":
        raise RuntimeError(f"{tag}: the export was not rendered by this run: {ends}")
    if segments and not any(f"split into {segments} segments" in n and f"{segments} to render, 0 cached" in n
                            and ("the sound to render" in n or not sound) for n in notes):
        raise RuntimeError(f"{tag}: the export was not rendered in {segments} fresh segments: {notes}")
    if not segments and any("split into" in n for n in notes):
        raise RuntimeError(f"{tag}: --no-split rendered in segments: {notes}")
    out = project / "out" / "big.mp4"
    from nemoflow.media.ffmpeg import ffmpeg_exe

    probe = subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(out), "-map", "0:v", "-c", "copy", "-f", "null", "-"],
                           capture_output=True, text=True)
    if probe.returncode != 0 or not out.is_file():
        raise RuntimeError(f"{tag}: {out} is not a readable video: {probe.stderr[-300:]}")
    shutil.rmtree(project, ignore_errors=True)
    return elapsed


def scaling(args: argparse.Namespace) -> int:
    """1 vs 2 workers, each pinned to one core, on one split 4K export."""
    import distributed

    if not hasattr(os, "sched_setaffinity") or (os.cpu_count() or 1) < 2:
        print("dask_batch: the scaling case needs Linux and 2 cores; nothing was measured", file=sys.stderr)
        return 1
    segment = args.segment or 5
    segments = round(args.seconds / segment)
    os.environ["NEMOFLOW_SPLIT_SEGMENT"] = str(segment)  # the workers' engine reads it (they inherit this environment)
    times: dict[int, list[float]] = {1: [], 2: []}
    with tempfile.TemporaryDirectory(prefix="nemoflow-dask-scaling-") as tmp:
        clusters = {}
        try:
            for n in (1, 2):
                cluster = distributed.LocalCluster(processes=True, n_workers=n, threads_per_worker=1, dashboard_address=":0",
                                                   silence_logs=40)
                client = distributed.Client(cluster, set_as_default=False)
                for core, worker in enumerate(sorted(client.scheduler_info()["workers"])):
                    client.run(os.sched_setaffinity, 0, {core}, workers=[worker])
                clusters[n] = (cluster, client)
            for r in range(args.repeats):
                for n in ((1, 2) if r % 2 == 0 else (2, 1)):
                    seconds = scaling_once(Path(tmp), clusters[n][0].scheduler_address, f"w{n}r{r}", args.size4k,
                                           args.seconds, segments, not args.no_sound)
                    times[n].append(seconds)
                    print(f"round {r + 1}: {n} worker{'s' if n > 1 else ' '} {seconds:7.2f} s", file=sys.stderr)
        except RuntimeError as err:
            print(f"dask_batch: FAIL (not measured): {err}", file=sys.stderr)
            return 1
        finally:
            for cluster, client in clusters.values():
                client.close()
                cluster.close()
    one, two = statistics.median(times[1]), statistics.median(times[2])
    speedup = one / two
    verdict = "PASS" if speedup >= SCALING_TARGET else "FAIL"
    result = {"case": "scaling", "sound": not args.no_sound, "size": args.size4k, "seconds": args.seconds,
              "segments": segments, "repeats": args.repeats,
              "one_worker_s": times[1], "two_workers_s": times[2], "speedup": round(speedup, 3), "target": SCALING_TARGET,
              "verdict": verdict}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"split {args.size4k} export{'' if not args.no_sound else ' (audio none)'}, {args.seconds} s in {segments} "
              f"segments: 1 worker {one:.2f} s, 2 workers "
              f"{two:.2f} s (median of {args.repeats}); speed-up {speedup:.2f}x (target >= {SCALING_TARGET}): {verdict}")
    return 0


WALL_TARGET = 1.10


def wall(args: argparse.Namespace) -> int:
    """Split vs single on the local executor with the whole machine, interleaved."""
    segment = args.segment or 10
    segments = round(args.seconds / segment)
    os.environ["NEMOFLOW_SPLIT_SEGMENT"] = str(segment)
    times: dict[str, list[float]] = {"split": [], "single": []}
    with tempfile.TemporaryDirectory(prefix="nemoflow-split-wall-") as tmp:
        try:
            for r in range(args.repeats):
                for name in (("split", "single") if r % 2 == 0 else ("single", "split")):
                    seconds = scaling_once(Path(tmp), "local", f"{name}{r}", args.size4k, args.seconds,
                                           segments if name == "split" else 0, not args.no_sound)
                    times[name].append(seconds)
                    print(f"round {r + 1}: {name:6s} {seconds:7.2f} s", file=sys.stderr)
        except RuntimeError as err:
            print(f"dask_batch: FAIL (not measured): {err}", file=sys.stderr)
            return 1
    split, single = statistics.median(times["split"]), statistics.median(times["single"])
    ratio = split / single
    verdict = "PASS" if ratio <= WALL_TARGET else "FAIL"
    result = {"case": "wall", "sound": not args.no_sound, "size": args.size4k, "seconds": args.seconds,
              "segments": segments, "repeats": args.repeats, "split_s": times["split"], "single_s": times["single"],
              "ratio": round(ratio, 3), "target": WALL_TARGET, "verdict": verdict}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.size4k} export, {args.seconds} s, local executor: split ({segments} segments) {split:.2f} s, "
              f"single {single:.2f} s (median of {args.repeats}); split/single = {ratio:.3f} "
              f"(target <= {WALL_TARGET}): {verdict}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--exports", type=int, default=40)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--size", default="1280x720")
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--case", choices=("batch", "scaling", "wall"), default="batch")
    parser.add_argument("--size4k", default="3840x2160", help="the scaling case's export size")
    parser.add_argument("--segment", type=float, help="scaling/wall cases: segment length in seconds (5 / 10)")
    parser.add_argument("--no-sound", action="store_true", help="scaling case: `audio none` (no sound pass: the segments alone)")
    args = parser.parse_args()
    if args.case == "scaling":
        if args.seconds == 6:
            args.seconds = 20
        return scaling(args)
    if args.case == "wall":
        if args.seconds == 6:
            args.seconds = 30
        return wall(args)
    try:
        import distributed
    except ImportError:
        print("dask_batch: needs distributed (pip install 'nemoflow[dask]'); nothing was measured", file=sys.stderr)
        return 1
    times: dict[str, list[float]] = {"local": [], "dask": []}
    with tempfile.TemporaryDirectory(prefix="nemoflow-dask-batch-") as tmp, \
            distributed.LocalCluster(processes=True, n_workers=args.workers, threads_per_worker=args.threads,
                                     dashboard_address=":0", silence_logs=40) as cluster:
        work = Path(tmp)
        cases = {"local": "local", "dask": cluster.scheduler_address.replace("tcp://", "dask://")}
        try:
            run_once(work, 2, cases["dask"], "warm")  # workers import nemoflow once, as a long-lived cluster has
            for r in range(args.repeats):
                order = ("local", "dask") if r % 2 == 0 else ("dask", "local")
                for name in order:
                    seconds = run_once(work, args.exports, cases[name], f"{name}{r}", args.size, args.seconds)
                    times[name].append(seconds)
                    print(f"round {r + 1}: {name:5s} {seconds:6.2f} s", file=sys.stderr)
        except RuntimeError as err:
            print(f"dask_batch: FAIL (not measured): {err}", file=sys.stderr)
            return 1
    local, dask = statistics.median(times["local"]), statistics.median(times["dask"])
    ratio = dask / local
    verdict = "PASS" if ratio <= TARGET else "FAIL"
    result = {"exports": args.exports, "size": args.size, "seconds": args.seconds, "repeats": args.repeats,
              "cores": os.cpu_count(), "workers": args.workers,
              "threads_per_worker": args.threads, "local_s": times["local"], "dask_s": times["dask"],
              "median_local_s": round(local, 3), "median_dask_s": round(dask, 3), "ratio": round(ratio, 3),
              "target": TARGET, "verdict": verdict}
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print(f"{args.exports} exports of {args.size}, {args.seconds} s: local {local:.2f} s, dask {dask:.2f} s "
              f"(median of {args.repeats}); "
              f"dask/local = {ratio:.3f} (target <= {TARGET}): {verdict}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
