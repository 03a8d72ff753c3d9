"""Shared test helpers."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nemoflow.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CORPUS = Path(__file__).resolve().parent / "corpus"


@pytest.fixture
def cli():
    """Run the CLI in-process; returns the click Result (stdout and stderr kept apart)."""
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(app, list(args), catch_exceptions=False)

    return invoke


@pytest.fixture(autouse=True)
def _no_cloud(tmp_path_factory, monkeypatch):
    """No test reaches the real NemoVideo service or the user's own credentials and config.

    The API address points at a closed port on this machine unless a test starts the fake server;
    credentials and config live in a fresh directory per test.
    """
    home = tmp_path_factory.mktemp("nemoflow-config")
    monkeypatch.setenv("NEMOFLOW_CONFIG", str(home / "config.toml"))
    monkeypatch.setenv("NEMO_API_URL", "http://127.0.0.1:9")
    monkeypatch.delenv("NEMO_TOKEN", raising=False)
    monkeypatch.delenv("NEMOFLOW_ENGINE", raising=False)
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("NEMOFLOW_CACHE_DIR", str(home / "cache"))  # analyses and stabilization passes stay per test


@pytest.fixture(autouse=True)
def _ffmpeg_may_start():
    """Each test starts with FFmpeg allowed: a run cancelled in an earlier test (stop_all) must not refuse the
    measurements a later test makes directly, outside a run (every FFmpeg start honours stop_all)."""
    from nemoflow.media.ffmpeg import allow_start

    allow_start()
