"""Tune page benchmarks — figures, not assertions. Run: ``.venv/bin/python -m bench.bench_tune``.

Builds a throwaway workspace (``HSS_WORKSPACE`` in a temp dir) holding a 10,000-account × 104-weekly-snapshot
portfolio from ``lib.data.sample.generate_portfolio(n_accounts=10000, n_snapshots=104, freq='W-MON')`` as the
first dataset (so the sidebar opens on it) and the default model, then measures slider move → preview
updated:

(1) AppTest: ``at.slider(key=...).set_value(v).run()`` for the band cut-offs (red handle) and for a metric
    threshold (logins "red"), median over ``--moves`` moves each.
(2) Real browser: ``streamlit run app.py`` on a free port, Playwright on Debian's Chromium: focus the slider
    thumb, press ArrowRight, wait until the preview's figure changes ("Red accounts" for the band cut-off,
    "Average score" for the threshold) and the app is idle; median over ``--moves`` presses each.
(3) Loading the app on the sample after the first run: AppTest (a second ``open_app``, then the Tune page)
    and the browser (a new tab — a new session, warm HTTP cache — on ``/`` and on the Tune page, against a
    server whose caches are warm).

Options: ``--moves N`` (default 7), ``--skip-browser``, ``--quick`` (1,000 × 12, to check the script).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BAND = "tune.bands"
THRESHOLD = "tune.metric.logins_per_user.red"


def median_ms(times: list[float]) -> str:
    return f"median {statistics.median(times) * 1000:,.0f} ms (n={len(times)}, min {min(times) * 1000:,.0f}, " \
           f"max {max(times) * 1000:,.0f})"


def build_workspace(path: Path, n_accounts: int, n_snapshots: int, freq: str) -> None:
    """A workspace with the big portfolio first (the sidebar's default) and the default model."""
    from lib.data.sample import DEFAULT_MODEL_PATH, generate_portfolio, sample_roles
    from lib.data.workspace import Workspace
    from lib.engine.model import load_model  # noqa: F401 - the default model must parse before we time anything

    t0 = time.perf_counter()
    df = generate_portfolio(n_accounts=n_accounts, n_snapshots=n_snapshots, freq=freq)
    with Workspace(path) as ws:
        ws.save_dataset("Bench portfolio", df, sample_roles(), "bench.csv")
        ws.save_model("Default", DEFAULT_MODEL_PATH.read_text(encoding="utf-8"), "bench")
    print(f"workspace: {len(df):,} rows ({n_accounts:,} accounts × {n_snapshots} snapshots) "
          f"in {time.perf_counter() - t0:.1f} s", flush=True)


# ---------------------------------------------------------------------------------------------- AppTest


def apptest_moves(moves: int) -> None:
    from tests.app.helpers import open_app

    def metric(at, label: str) -> str:
        return next(m.value for m in at.metric if m.label == label)

    t0 = time.perf_counter()
    at = open_app("tune", timeout=600)
    assert not at.exception, [e.message for e in at.exception]
    print(f"AppTest first open of Tune (scoring + live-preview preparation): {time.perf_counter() - t0:.1f} s")
    for key, values, label in (
        (BAND, [(at.slider(key=BAND).value[0] + i + 1, at.slider(key=BAND).value[1]) for i in range(moves)],
         "Red accounts"),
        (THRESHOLD, [round(at.slider(key=THRESHOLD).value + 0.2 * (i + 1), 1) for i in range(moves)],
         "Average score"),
    ):
        times, changed = [], 0
        for v in values:
            before = metric(at, label)
            t = time.perf_counter()
            at.slider(key=key).set_value(v).run()
            times.append(time.perf_counter() - t)
            assert not at.exception, [e.message for e in at.exception]
            changed += metric(at, label) != before
        print(f"AppTest slider move {key!r}: {median_ms(times)}; '{label}' changed on {changed}/{moves} moves")


def apptest_sample_load(runs: int) -> None:
    from tests.app.helpers import open_app

    times, tune = [], []
    for _ in range(runs + 1):
        t = time.perf_counter()
        at = open_app(timeout=600)
        times.append(time.perf_counter() - t)
        t = time.perf_counter()
        at.switch_page("app_pages/tune.py").run()
        tune.append(time.perf_counter() - t)
        assert not at.exception, [e.message for e in at.exception]
    print(f"AppTest load of the app on the sample (Overview), first run {times[0]:.1f} s; after it: "
          f"{median_ms(times[1:])}")
    print(f"AppTest switch to Tune on the sample (server-side page run), first {tune[0]:.1f} s; after it: "
          f"{median_ms(tune[1:])}")


# ---------------------------------------------------------------------------------------------- browser


def server(workspace: Path | None, log: Path, script: str = "app.py"):  # noqa: ANN201 - a context manager
    """``streamlit run <script>`` on a free port against ``workspace``; yields the base URL."""
    from tests.browser.conftest import serve

    return serve(workspace, log, script, timeout=120)


def _open(target, url: str, path: str, ready: str | None = None):  # noqa: ANN001 - Playwright browser/context
    """A new tab (a new Streamlit session) on ``path``; ``target`` a browser (fresh context) or a context."""
    from tests.browser.conftest import wait_for_app

    context = target.new_context(viewport={"width": 1440, "height": 900}, base_url=url) \
        if hasattr(target, "new_context") else target
    tab = context.new_page()
    tab.goto(path)
    wait_for_app(tab, timeout=600_000)
    if tab.locator('[data-testid="stException"], [data-testid="stAlertContentError"]').count():
        raise RuntimeError(f"{path} shows an error: {tab.locator('[data-testid=stMain]').inner_text()[:500]}")
    if ready:
        tab.wait_for_selector(ready, timeout=600_000)
        wait_for_app(tab, timeout=600_000)
    return tab


SIDEBAR = '[data-testid="stSidebarUserContent"] [data-testid="stSelectbox"]'  # drawn by app.py's ui.sidebar()
CHART_TEXT = "[...document.querySelectorAll('.js-plotly-plot')].map(c => c.textContent).join('|')"


def _chart_text(tab) -> str:  # noqa: ANN001 - a Playwright page
    return tab.evaluate(f"() => {CHART_TEXT}")


def _metric(tab, label: str) -> str:  # noqa: ANN001 - a Playwright page
    box = tab.locator('[data-testid="stMetric"]').filter(has_text=label).first
    return box.locator('[data-testid="stMetricValue"]').inner_text()


def browser_moves(url: str, moves: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, wait_for_app

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        t0 = time.perf_counter()
        _open(browser, url, "/", ready=SIDEBAR).close()  # app.py once: /tune is then a st.navigation page
        tab = _open(browser, url, "/tune", ready='[data-testid="stMetric"]')
        print(f"browser first open of Tune on the big portfolio: {time.perf_counter() - t0:.1f} s")
        for slider, label in (("Band cut-offs", "Red accounts"), ("Red: scores 0 at", "Average score")):
            times, changed = [], 0
            for _ in range(moves):
                thumb = tab.locator('[data-testid="stSlider"]').filter(has_text=slider).first \
                    .locator('input[type="range"]').first
                thumb.focus()
                before, charts = _metric(tab, label), _chart_text(tab)
                t = time.perf_counter()
                tab.keyboard.press("ArrowRight")
                # Server-drawn text that every move changes: the cut-off / threshold labels on the charts.
                tab.wait_for_function(f"() => ({CHART_TEXT}) !== {json.dumps(charts)}", timeout=120_000,
                                      polling=10)
                wait_for_app(tab, timeout=120_000)
                times.append(time.perf_counter() - t - 0.3)  # wait_for_app ends with a fixed 300 ms pause
                changed += _metric(tab, label) != before
            print(f"browser keypress on {slider!r} → preview redrawn and app idle: {median_ms(times)}; "
                  f"'{label}' changed on {changed}/{moves} presses")
        browser.close()


def browser_sample_load(url: str, runs: int) -> None:
    from playwright.sync_api import sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS

    reference_log = Path(tempfile.mkdtemp(prefix="hss-bench-ref-")) / "reference.log"
    with sync_playwright() as pw, server(None, reference_log, script="bench/reference_app.py") as reference:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        medians = {}
        # One browser context per server: a returning user's HTTP cache holds Streamlit's and Plotly's
        # scripts; every tab is still a new Streamlit session that runs the script.
        for name, base, path, ready in (("reference page (title, 4 KPIs, 1 Plotly chart)", reference, "/",
                                         ".js-plotly-plot .main-svg"),
                                        ("the app's Overview", url, "/", SIDEBAR),
                                        ("the app's Tune page", url, "/tune", '[data-testid="stMetric"]')):
            context = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=base)
            times = []
            for _ in range(runs + 1):
                t = time.perf_counter()
                tab = _open(context, base, path, ready)
                # Loaded = every chart drawn, not just the script finished.
                tab.wait_for_function("() => document.querySelectorAll('.js-plotly-plot').length === "
                                      "document.querySelectorAll('.js-plotly-plot .main-svg').length / 3",
                                      timeout=600_000)
                times.append(time.perf_counter() - t - 0.6)  # two wait_for_app calls, each ends with 300 ms
                tab.close()
            context.close()
            medians[name] = statistics.median(times[1:])
            print(f"browser load of {name} on the sample, first {times[0]:.1f} s; after it: {median_ms(times[1:])}")
        ref, overview, tune = medians.values()
        print(f"  ratio to the reference page: Overview {overview / ref:.2f}, Tune {tune / ref:.2f}")
        browser.close()


PARTS = {"apptest-moves": apptest_moves, "apptest-sample": apptest_sample_load,
         "browser-moves": browser_moves, "browser-sample": browser_sample_load}


def run_part(part: str, workspace: Path, moves: int, url: str = "") -> None:
    """Run one measurement in its own process: AppTest leaves Streamlit's runtime and event loop behind,
    which Playwright's sync API cannot share, and a DuckDB workspace file has one owner at a time."""
    env = {**os.environ, "HSS_WORKSPACE": str(workspace)}
    cmd = [sys.executable, "-m", "bench.bench_tune", "--part", part, "--moves", str(moves), "--url", url]
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)
    print(f"  (load average over the last minute: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs)", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=7)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,000 accounts × 12 snapshots")
    parser.add_argument("--part", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--url", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.part:
        PARTS[args.part](*((args.url,) if args.part.startswith("browser") else ()), args.moves)
        return
    size = (1000, 12, "MS") if args.quick else (10_000, 104, "W-MON")
    with tempfile.TemporaryDirectory(prefix="hss-bench-tune-") as tmp:
        big, sample = Path(tmp) / "big.duckdb", Path(tmp) / "sample.duckdb"
        build_workspace(big, *size)
        run_part("apptest-moves", big, args.moves)
        if not args.skip_browser:
            with server(big, Path(tmp) / "big.log") as url:
                run_part("browser-moves", big, args.moves, url)
        run_part("apptest-sample", sample, args.moves)
        if not args.skip_browser:
            with server(sample, Path(tmp) / "sample.log") as url:
                run_part("browser-sample", sample, args.moves, url)


if __name__ == "__main__":
    main()
