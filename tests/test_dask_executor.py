"""The Dask executor (run/dask_executor.py) on a real `distributed` cluster: same outputs, cache, events and exit codes
as the local executor; the choice of executor; the errors a cluster can give (unreachable, a worker that cannot see a
file); and, end to end, a `dask scheduler` with two `dask worker` processes, one of them killed mid-render."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from avkit import FFMPEG
from runnerkit import events, finished, journal_events, make_project, nf

from nemoflow.media.ffmpeg import _dies_with_us

distributed = pytest.importorskip("distributed")

TWO_EXPORTS = {"export.a", "export.b"}


@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(processes=True, n_workers=2, threads_per_worker=1, dashboard_address=":0",
                                  silence_logs=40) as local, distributed.Client(local, set_as_default=False) as client:
        yield local, client


def _frames(path: Path) -> list[str]:
    """Decoded video frames' checksums (FFmpeg's framemd5): equal lists, equal pictures."""
    out = subprocess.run([FFMPEG, "-v", "error", "-i", str(path), "-map", "0:v", "-f", "framemd5", "-"], check=True,
                         capture_output=True, text=True).stdout
    return [line.rsplit(",", 1)[-1].strip() for line in out.splitlines() if line and not line.startswith("#")]


def _ran_on_cluster(client, fn):
    """What `fn()` did, and the nemoflow tasks the cluster ran meanwhile (the scheduler's task stream)."""
    with distributed.get_task_stream(client) as stream:
        value = fn()
    return value, [t for t in stream.data if str(t["key"]).startswith("nemoflow-")]


def test_a_run_on_the_cluster_makes_what_a_local_run_makes_and_a_rerun_submits_nothing(tmp_path, cluster):
    local, client = cluster
    here = make_project(tmp_path / "here")
    there = tmp_path / "there"
    shutil.copytree(here.parent, there)
    junit, local_junit = tmp_path / "report.xml", tmp_path / "local.xml"

    mine = nf("run", here, "--json", "--junit", local_junit, "--executor", "local")
    result, tasks = _ran_on_cluster(client, lambda: nf("run", there / "r.nemo", "--json", "--junit", junit,
                                                        "--executor", local.scheduler_address))
    assert result.exit_code == 0, result.stderr
    assert finished(result) == finished(mine) and set(finished(result).values()) == {"ok"}
    ran = {t["key"].rsplit("-", 1)[0].removeprefix("nemoflow-") for t in tasks}
    assert ran == TWO_EXPORTS  # the renders went to the cluster (light steps run here)
    assert {t["worker"] for t in tasks} <= set(client.scheduler_info()["workers"])  # rendered by the cluster's workers
    for name in ("a.mp4", "b.mp4"):
        assert _frames(there / "out" / name) == _frames(here.parent / "out" / name)
    checks = [e for e in events(result) if e["event"] == "check"]
    assert [c["check"] for c in checks] == ["duration ~= 1s", "has audio"] and all(c["ok"] for c in checks)
    def cases(path: Path) -> list[tuple[str | None, str | None, int]]:
        return sorted((c.get("classname"), c.get("name"), len(c)) for c in ET.parse(path).getroot().iter("testcase"))

    assert cases(junit) == cases(local_junit) and {"has audio", "duration ~= 1s"} <= {c[1] for c in cases(junit)}
    progressed = {e["step"] for e in events(result) if e["event"] == "step-progress"}
    assert progressed == {e["step"] for e in events(mine) if e["event"] == "step-progress"} == TWO_EXPORTS  # relayed live

    again, tasks = _ran_on_cluster(client, lambda: nf("run", there / "r.nemo", "--json", "--executor", local.scheduler_address))
    assert again.exit_code == 0 and set(finished(again).values()) == {"cached"}
    assert tasks == []
    assert "nothing to do: 7 cached" in again.stderr


def test_j_bounds_the_steps_in_flight_on_the_cluster(tmp_path, cluster):
    local, client = cluster
    recipe = make_project(tmp_path / "p")
    result, tasks = _ran_on_cluster(client, lambda: nf("run", recipe, "-j", "1", "--executor", local.scheduler_address))
    assert result.exit_code == 0, result.stderr
    spans = sorted((ss["start"], ss["stop"]) for t in tasks for ss in t["startstops"] if ss["action"] == "compute")
    assert len(spans) == 2 and spans[0][1] <= spans[1][0]  # two renders, one after the other, though two workers were idle


def test_a_failing_check_on_a_worker_fails_the_run_as_locally(tmp_path, cluster):
    local, _ = cluster
    recipe = make_project(tmp_path / "p")
    recipe.write_text(recipe.read_text().replace("duration ~= 1s", "duration ~= 5s"), encoding="utf-8")
    result = nf("run", recipe, "--json", "--executor", local.scheduler_address)
    assert result.exit_code == 1
    bad = [e for e in events(result) if e["event"] == "check" and not e["ok"]]
    assert [(b["check"], b["actual"]) for b in bad] == [("duration ~= 5s", "1.000s")]
    assert finished(result)["expect.a"] == "failed" and finished(result)["export.b"] == "ok"


SPLIT = """nemo 1

media bars = pattern testsrc duration 31s size 320x180 fps 30

edit cut {
  video bars for 30s
  title "one export, three segments" from 8s to 12s
}

export long = cut {
  size 320x180
  quality draft
  save "out/long.mp4"
}
"""


def test_a_split_export_renders_its_segments_on_both_workers(tmp_path, cluster, monkeypatch):
    local, client = cluster
    for name in ("here", "there"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "r.nemo").write_text(SPLIT, encoding="utf-8")
    mine = nf("run", tmp_path / "here" / "r.nemo", "--split", "--executor", "local")
    assert mine.exit_code == 0, mine.stderr
    monkeypatch.setenv("NEMOFLOW_CACHE_DIR", str(tmp_path / "cluster-cache"))  # no segment reused from the local run
    result, tasks = _ran_on_cluster(client, lambda: nf("run", tmp_path / "there" / "r.nemo", "--split", "--executor",
                                                        local.scheduler_address))
    assert result.exit_code == 0, result.stderr
    parts = [t for t in tasks if "-part" in t["key"]]
    assert len(parts) == 4 and len({t["worker"] for t in parts}) == 2  # three segments and the sound, as parts
    assert list((tmp_path / "cluster-cache" / "segments").iterdir())
    assert list((tmp_path / "cluster-cache" / "sound").glob("*.m4a"))
    assert _frames(tmp_path / "there" / "out" / "long.mp4") == _frames(tmp_path / "here" / "out" / "long.mp4")


HD = """nemo 1

media bars = pattern testsrc duration 2s size 1920x1080 fps 30

edit cut {
  video bars for 1s
}

export hd = cut {
  size 1920x1080
  quality draft
  save "out/hd.mp4"
}
"""


def test_a_render_needing_every_core_asks_workers_that_declare_cpu_for_what_they_have(tmp_path):
    """1080p needs every core of the client (2 here); workers declaring `cpu=1` can only give 1: the need is capped at
    the smallest declaration, else the render would wait forever for a worker that does not exist."""
    project = tmp_path / "p"
    project.mkdir()
    (project / "r.nemo").write_text(HD, encoding="utf-8")
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=2, resources={"cpu": 1},
                                  dashboard_address=":0", silence_logs=40) as local, \
            distributed.Client(local, set_as_default=False) as client:
        claimed: list = []

        def watch() -> None:  # the scheduler's view of the render while it waits or runs: its resource restrictions
            def restrictions(dask_scheduler):
                return {k: dict(ts.resource_restrictions or {}) for k, ts in dask_scheduler.tasks.items()
                        if str(k).startswith("nemoflow-")}
            deadline = time.monotonic() + 60  # uncapped, the render would never start: stop looking, and fail below
            while run.poll() is None and time.monotonic() < deadline:
                claimed.extend(client.run_on_scheduler(restrictions).values())
                time.sleep(0.05)

        run = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(project / "r.nemo"), "--executor",
                                local.scheduler_address], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               preexec_fn=_die_with_parent)
        try:
            watch()
            if run.poll() is None:
                run.kill()
            _, err = run.communicate(timeout=60)
        finally:
            if run.poll() is None:
                run.kill()
    assert run.returncode == 0, err
    assert claimed and all(c == {"cpu": 1} for c in claimed)


def test_an_unreachable_scheduler_is_exit_2_naming_it(tmp_path):
    recipe = make_project(tmp_path / "p")
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = nf("run", recipe, "--executor", f"dask://127.0.0.1:{port}")
    assert result.exit_code == 2
    assert f"cannot reach the Dask scheduler at tcp://127.0.0.1:{port}" in result.stderr
    assert not (tmp_path / "p" / "out").exists()


def test_without_distributed_the_dask_executor_says_what_to_install(tmp_path):
    recipe = make_project(tmp_path / "p")
    hidden = tmp_path / "no-distributed" / "distributed"
    hidden.mkdir(parents=True)
    (hidden / "__init__.py").write_text('raise ImportError("No module named distributed")\n', encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(hidden.parent)}  # found first: as if it were not installed
    run = subprocess.run([sys.executable, "-m", "nemoflow", "run", str(recipe), "--executor", "dask://127.0.0.1:8786"],
                         capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 2
    assert "the Dask executor needs the `distributed` package: pip install 'nemoflow[dask]'" in run.stderr
    assert not (tmp_path / "p" / "out").exists()


def test_the_executor_is_chosen_by_option_then_environment_then_config(tmp_path, monkeypatch):
    recipe = make_project(tmp_path / "p")
    Path(os.environ["NEMOFLOW_CONFIG"]).write_text('[run]\nexecutor = "dask://h:0"\n', encoding="utf-8")
    from_config = nf("run", recipe)
    assert from_config.exit_code == 2 and "`[run] executor` in the config file names the executor `dask://h:0`" in from_config.stderr
    monkeypatch.setenv("NEMOFLOW_EXECUTOR", "dask://nowhere")
    from_env = nf("run", recipe)
    assert from_env.exit_code == 2 and "NEMOFLOW_EXECUTOR names the executor `dask://nowhere`" in from_env.stderr
    bad = nf("run", recipe, "--executor", "spark://x")
    assert bad.exit_code == 2 and "--executor names the executor `spark://x`" in bad.stderr and "dask://HOST:PORT" in bad.stderr
    assert nf("run", recipe, "--executor", "local").exit_code == 0  # the option wins over both
    assert not list((tmp_path / "p").glob("**/*.partial.mp4"))


def test_a_worker_that_cannot_read_a_media_file_stops_the_run_naming_worker_and_path(tmp_path):
    recipe = make_project(tmp_path / "p")
    clip = tmp_path / "p" / "clip.mp4"
    clip.chmod(0o600)
    os.chmod(tmp_path, 0o755)
    with distributed.LocalCluster(processes=True, n_workers=1, threads_per_worker=1, dashboard_address=":0",
                                  silence_logs=40) as local, distributed.Client(local, set_as_default=False) as client:
        if os.geteuid() == 0:  # root reads anything: the worker becomes nobody, as on a machine without that share
            client.run(__import__, "nemoflow.run.dask_executor")  # its code is loaded first: nobody cannot read site-packages
            client.run(os.setgid, 65534)
            client.run(os.setuid, 65534)
        else:
            clip.chmod(0)
        worker = next(iter(client.scheduler_info()["workers"]))
        result = nf("run", recipe, "--executor", local.scheduler_address)
    assert result.exit_code == 2
    assert f"worker {worker} cannot read {clip}" in result.stderr
    assert "shared filesystem" in result.stderr
    assert not (tmp_path / "p" / "out").exists()


# -- end to end: `dask scheduler` and two `dask worker` processes; one is killed while it renders --------------------

LONG = """nemo 1

media bars = pattern testsrc duration 20s size 1920x1080 fps 30
media grid = pattern bars duration 2s size 320x180 fps 30

edit long_cut {
  video bars for 20s
}

edit short_cut {
  video grid for 1s
}

export long = long_cut {
  size 1920x1080
  save "out/long.mp4"
}

expect long {
  duration ~= 20s
}

export short = short_cut {
  size 320x180
  quality draft
  save "out/short.mp4"
}
"""


def test_ctrl_c_cancels_the_clusters_work(tmp_path, cluster):
    local, client = cluster
    project = tmp_path / "p"
    project.mkdir()
    (project / "r.nemo").write_text(LONG, encoding="utf-8")
    run = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(project / "r.nemo"), "--executor", local.scheduler_address],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=_die_with_parent)
    try:
        _wait_for(lambda: any(k.startswith("nemoflow-export.long-") for keys in client.processing().values() for k in keys),
                  run, "the long export was never seen running")
        run.send_signal(signal.SIGINT)
        _, err = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
    assert run.returncode == 130, err
    assert "interrupted" in err
    _wait_for(lambda: not any(k.startswith("nemoflow-") for keys in client.processing().values() for k in keys), None,
              "the cluster still runs the cancelled steps")
    assert not (project / "out" / "long.mp4").exists()
    assert not [p.name for p in (project / "out").iterdir() if p.name.startswith(".")] if (project / "out").exists() else True


def _wait_for(condition, proc, what: str, limit: float = 60.0) -> None:
    """Polls `condition` until it holds (or `proc` ended, or `limit` seconds passed: then fails with `what`)."""
    deadline = time.monotonic() + limit
    while not condition():
        assert time.monotonic() < deadline and (proc is None or proc.poll() is None), what
        time.sleep(0.05)


# In the child, before exec: the kernel kills it if the test process dies (no stray cluster, no stray run). libc's
# prctl is looked up here, in the parent: nothing may be loaded between fork and exec in a process with threads.
_die_with_parent = _dies_with_us()


def _start(*args: str, log: Path) -> subprocess.Popen:
    dask = shutil.which("dask") or str(Path(sys.executable).parent / "dask")
    return subprocess.Popen([dask, *args], stdout=subprocess.DEVNULL, stderr=log.open("wb"), start_new_session=True,
                            preexec_fn=_die_with_parent)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
def test_end_to_end_a_killed_worker_is_replaced_and_the_journal_says_so(tmp_path):
    project = tmp_path / "p"
    project.mkdir()
    recipe = project / "r.nemo"
    recipe.write_text(LONG, encoding="utf-8")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    procs = [_start("scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard", log=tmp_path / "scheduler.log")]
    try:
        with distributed.Client(address, timeout=30, set_as_default=False) as client:
            procs += [_start("worker", address, "--nthreads", "1", "--no-nanny", "--no-dashboard", "--host", "127.0.0.1",
                             log=tmp_path / f"worker{i}.log") for i in range(2)]
            client.wait_for_workers(2, timeout=60)
            pids = client.run(os.getpid)
            run = subprocess.Popen([sys.executable, "-m", "nemoflow", "run", str(recipe), "--json", "--executor",
                                    f"dask://127.0.0.1:{port}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env={**os.environ}, preexec_fn=_die_with_parent)
            victim = None
            deadline = time.monotonic() + 60
            while victim is None and time.monotonic() < deadline and run.poll() is None:
                for worker, keys in client.processing().items():
                    if any(k.startswith("nemoflow-export.long-") for k in keys):
                        victim = worker
                time.sleep(0.05)
            assert victim is not None, "the long export was never seen running"
            time.sleep(1.5)  # well into the render, and seen there by the run's watcher
            os.killpg(pids[victim], signal.SIGKILL)
            out, err = run.communicate(timeout=240)
        assert run.returncode == 0, err
        lines = [json.loads(line) for line in out.splitlines() if line.startswith("{")]
        ends = {e["step"]: e["status"] for e in lines if e["event"] == "step-finished"}
        assert ends["export.long"] == "ok" and ends["expect.long"] == "ok"
        assert len(_frames(project / "out" / "long.mp4")) == 600
        retries = [e for e in journal_events(project)[-1] if e["event"] == "step-retry"]
        assert [r["step"] for r in retries] == ["export.long"]
        assert f"worker {victim} was lost while running export.long" in retries[0]["error"]
        assert not [p.name for p in (project / "out").iterdir() if p.name.startswith(".")]  # no partial file left
    finally:
        for proc in procs:
            with __import__("contextlib").suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)
