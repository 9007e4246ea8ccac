"""Real-browser fixtures: the app served by `streamlit run` on a free local port, driven by Playwright
through Debian's Chromium (browsers cannot be downloaded here, so we point Playwright at /usr/bin/chromium)."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM = os.environ.get("HSS_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
# Flags for a sandboxed, offline machine: no first-run UI, no background calls to Google's hosts.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test in this folder as a browser test, one xdist group per module.

    A module's tests run in order on one worker (they share its page set-up and leave the server as they found
    it), while the modules spread over the workers: with xdist's default reordering the groups, largest first,
    start before the single unit tests, so both workers drive a browser early and finish the unit tests
    together. Each worker starts its own server (the session-scoped ``app_url``) when it first needs one.
    """
    here = Path(__file__).parent
    for item in items:
        path = Path(item.fspath)
        if here in path.parents:
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.xdist_group(f"browser.{path.stem}"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_healthy(url: str, proc: subprocess.Popen, log: Path, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"streamlit exited with {proc.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"streamlit did not answer within {timeout:.0f}s:\n{log.read_text()[-3000:]}")


@contextmanager
def serve(workspace: Path | None, log: Path, script: str = "app.py", timeout: float = 90.0,
          env: dict[str, str] | None = None, port: int | None = None, args: tuple[str, ...] = ()) -> Iterator[str]:
    """``streamlit run <script>`` on ``port`` (default a free local port) against ``workspace`` when given, with
    ``env`` added to the environment and ``args`` (Streamlit options) to the command line; yields the base URL
    once the server answers, and stops it on exit. Shared with bench/."""
    port = port or free_port()
    env = {**os.environ, **({"HSS_WORKSPACE": str(workspace)} if workspace else {}), **(env or {})}
    cmd = [sys.executable, "-m", "streamlit", "run", script, "--server.port", str(port),
           "--server.address", "127.0.0.1", "--server.headless", "true", "--browser.gatherUsageStats", "false",
           *args]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_healthy(url, proc, log, timeout)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def app_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start the app on the bundled sample in a throwaway workspace; yield its base URL. One per module: the
    modules run on either xdist worker in any order, so what one module saves (a model linked to the sample, a
    play) must not reach another's pages."""
    tmp = tmp_path_factory.mktemp("server")
    with serve(tmp / "workspace.duckdb", tmp / "streamlit.log") as url:
        yield url


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: run `make test` (it installs Debian's chromium).")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(scope="module")
def module_tab(browser, app_url):
    """One browser tab (1440×900) for a module's tests, which records any JavaScript dialog instead of blocking on it.

    It opens the app once before the first test: app.py's first run on the fresh server builds the sample workspace
    and fills the server's caches, and from then on every page's URL resolves through app.py's st.navigation (until
    it has run once, a fresh server runs a page opened by URL on its own, without the shared sidebar). A tab's
    first load compiles the app's scripts, seconds on a busy machine; later loads in the same tab reuse them.
    """
    context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=app_url)
    tab = context.new_page()
    tab.dialogs = []
    tab.on("dialog", lambda d: (tab.dialogs.append(d.message), d.dismiss()))
    tab.goto("/")
    wait_for_app(tab, timeout=120_000)
    tab.locator("h1").first.wait_for(timeout=120_000)
    yield tab
    context.close()


@pytest.fixture
def page(module_tab):
    """The module's tab, as a test finds a new one: 1440×900 and no dialog recorded. Each test opens its page by
    URL, and every load starts a new Streamlit session (nothing of the previous test's session carries over)."""
    module_tab.set_viewport_size({"width": 1440, "height": 900})
    module_tab.dialogs.clear()
    return module_tab


def wait_for_app(tab, timeout: float = 60_000) -> None:
    """Wait until Streamlit has finished running the script (no 'Running…' status, app mounted)."""
    tab.wait_for_selector('[data-testid="stApp"]', timeout=timeout)
    tab.wait_for_function(
        """() => { const s = document.querySelector('[data-testid="stStatusWidget"]');
                   const busy = s && /Running|Connecting/i.test(s.innerText);
                   return !busy && !document.querySelector('[data-testid="stSkeleton"]'); }""",
        timeout=timeout,
    )
    tab.wait_for_timeout(300)


def open_page(tab, path: str = "/") -> None:
    """Navigate to an app page by URL path and wait for it to settle."""
    tab.goto(path)
    wait_for_app(tab)


def screenshot(tab, name: str) -> Path:
    """Save a full-page PNG under test-artifacts/ (kept for people to look at)."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    tab.screenshot(path=str(path), full_page=True)
    return path


def exception_count(tab) -> int:
    """How many Streamlit exception blocks the page shows."""
    return tab.locator('[data-testid="stException"]').count()
