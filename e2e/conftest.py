"""End-to-end fixtures: the real server (uvicorn) and Debian's Chromium driven by Playwright."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, Playwright, sync_playwright

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "e2e" / "artifacts"
CHROMIUM = os.environ.get("RESIDUE_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class Server:
    url: str
    data: Path
    process: subprocess.Popen[bytes]


def wait_studio(page: Page, timeout_ms: float = 60_000) -> None:
    """Wait until the page's socket is open and the studio lists its sounds (the demo loops)."""
    page.wait_for_function(
        "() => window.residue !== undefined && window.residue.state().connection === 'open'"
        " && window.residue.state().sounds > 0",
        timeout=timeout_ms,
    )


def start_server(data: Path, port: int, **env_vars: str) -> subprocess.Popen[bytes]:
    """Start ``residue serve`` on ``port`` with ``data`` (and ``RESIDUE_*`` overrides)."""
    env = {**os.environ, "RESIDUE_DATA": str(data), **env_vars}
    log = (data.parent / f"server-{port}.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "residue.cli", "serve", "--port", str(port)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see {log.name}")
        try:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/api/health", timeout=1)
            return proc
        except OSError:
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError("server did not start within 90 s")


@pytest.fixture(scope="session")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    if not (ROOT / "frontend" / "dist" / "index.html").is_file():
        pytest.fail("frontend/dist is missing: run `make web` (make test does)")
    data = tmp_path_factory.mktemp("e2e") / "data"
    port = free_port()
    proc = start_server(data, port)
    yield Server(url=f"http://127.0.0.1:{port}", data=data, process=proc)
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make system` installs Debian's chromium")
    b = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
    yield b
    b.close()


@pytest.fixture(scope="session")
def artifacts() -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS


@pytest.fixture(scope="session")
def timbre_model(server: Server) -> str:
    """A default timbre model in the server's data folder, trained through the real code path
    but briefly (2 epochs, no SoundFont notes), so the timbre room opens without the ~30 s
    first-use training; returns its id. The running server reads it from disk on next use."""
    import dataclasses

    from residue.config import Settings
    from residue.services import timbre

    settings = dataclasses.replace(Settings(), data_dir=server.data)
    return timbre.ensure_default_model(settings, epochs=2, soundfont=False).model_id
