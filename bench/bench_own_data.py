"""Own data, first to last — figures, not assertions. Run: ``.venv/bin/python -m bench.bench_own_data``.

A CRM export whose names match nothing in the sample (``tests/foreign.py``: 10,000 accounts × 104 weekly
snapshots, 20 columns, "$11,500" and "45%" text, gaps) goes the way a leader takes it:

(1) In-process, each step ``--runs`` times in a fresh subprocess (median; peak RSS of that process), each
    against a simple reference in the same process:
    - upload: ``ingest.read_table`` + ``detect_roles`` (what choosing the file runs) vs ``pandas.read_csv``
      of the same bytes, every cell as text;
    - save: ``mapping.check_upload`` (parse numbers, dates, outcome) + ``Workspace.save_dataset`` vs DuckDB's
      own ``CREATE TABLE … AS SELECT`` of the loaded frame;
    - Start a model: ``starter.survey`` + ``preselect`` + ``build_model`` vs ``DataFrame.describe()``;
    - first Overview's scoring: the app's loader (``LiveScorer`` prepared and a full rescore, then
      ``attach_attributes``) vs a DuckDB ``GROUP BY`` over the same table.
(2) Real browser (Streamlit + Playwright on Debian's Chromium), one journey on an empty workspace: choose the
    file → preview shown; Save dataset → saved; Start a model → its table shown; Create model → Tune's preview
    shown; a keypress on the band cut-off → preview redrawn (median of ``--moves``); Overview → every chart
    drawn.

Options: ``--runs N`` (default 3), ``--moves N`` (default 7), ``--skip-browser``, ``--quick`` (1,000 × 12).
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lib.engine.scored_portfolio import attach_attributes

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

STEPS = ("upload", "save", "start", "overview")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _timed(fn):  # noqa: ANN001, ANN202 - any callable
    t = time.perf_counter()
    out = fn()
    return time.perf_counter() - t, out


def step(name: str, csv: Path, workspace: Path) -> None:
    """One measured step in this process; prints ``RESULT name seconds reference_seconds rows peak_mb``."""
    import duckdb
    import pandas as pd

    from lib.analysis import starter
    from lib.data import ingest
    from lib.data import role_mapping as mapping
    from lib.data.workspace import Workspace
    from lib.engine.numpy_eval import LiveScorer

    data = csv.read_bytes()
    raw, report = ingest.read_table(data, csv.name), None
    if name == "upload":
        seconds, (raw, report) = _timed(lambda: (lambda r: (r, ingest.detect_roles(r)))(
            ingest.read_table(data, csv.name)))
        ref, _ = _timed(lambda: pd.read_csv(io.BytesIO(data), dtype=str, keep_default_na=False))
        rows = len(raw)
    else:
        report = ingest.detect_roles(raw)
        check = mapping.check_upload(raw, report, report.roles, None, None)
        portfolio = check.portfolio
        rows = len(portfolio.df)
        if name == "save":
            workspace.unlink(missing_ok=True)
            ws = Workspace(workspace)
            seconds, _ = _timed(lambda: (mapping.check_upload(raw, report, report.roles, None, None),
                                         ws.save_dataset("Acme export", portfolio)))
            con = duckdb.connect()
            con.register("frame", portfolio.df)
            ref, _ = _timed(lambda: con.execute("CREATE TABLE t AS SELECT * FROM frame"))
        else:
            df, roles = portfolio.df, portfolio.roles
            if name == "start":
                def start() -> object:
                    cands = list(starter.survey(df, roles.canonical(), roles).candidates)
                    return starter.build_model(df, cands, starter.preselect(cands), "Acme export health")
                seconds, _ = _timed(start)
                ref, _ = _timed(lambda: df.describe(include="all"))
            else:
                cands = list(starter.survey(df, roles.canonical(), roles).candidates)
                model = starter.build_model(df, cands, starter.preselect(cands), "Acme export health")
                # What the app's loader does: the dataset's prepared numpy scorer (the SQL is tested equal).
                seconds, _ = _timed(lambda: attach_attributes(LiveScorer(df, model).rescore(model), df,
                                                                 roles.segments, model))
                con = duckdb.connect()
                con.register("df", df)
                columns = ", ".join(f'avg("{c}")' for c in model.metrics if pd.api.types.is_numeric_dtype(df[c]))
                ref, _ = _timed(lambda: con.execute(f"SELECT account_id, {columns} FROM df GROUP BY account_id")
                                .fetchall())
    print(f"RESULT {name} {seconds:.4f} {ref:.4f} {rows} {_peak_mb():.0f}", flush=True)


def in_process(csv: Path, runs: int, tmp: Path) -> None:
    for name in STEPS:
        results = []
        for _ in range(runs):
            out = subprocess.run([sys.executable, "-m", "bench.bench_own_data", "--step", name, "--csv", str(csv),
                                  "--workspace", str(tmp / "step.duckdb")], cwd=ROOT, check=True,
                                 capture_output=True, text=True).stdout
            line = next(x for x in out.splitlines() if x.startswith("RESULT"))
            _, _, seconds, ref, rows, peak = line.split()
            results.append((float(seconds), float(ref), int(rows), float(peak)))
        med = statistics.median(r[0] for r in results)
        ratio = statistics.median(r[0] / r[1] for r in results)
        rows = results[0][2]
        print(f"{name:9s} median {med:6.2f} s (runs {', '.join(f'{r[0]:.2f}' for r in results)}), "
              f"{rows / med / 1e6:5.2f} M rows/s, peak {max(r[3] for r in results):,.0f} MB, "
              f"ratio to reference {ratio:.1f} (reference median {statistics.median(r[1] for r in results):.2f} s)"
              f"  [load {os.getloadavg()[0]:.1f}]", flush=True)


def browser_journey(csv: Path, moves: int, tmp: Path) -> None:
    from playwright.sync_api import expect, sync_playwright

    from tests.browser.conftest import CHROMIUM, CHROMIUM_ARGS, serve, wait_for_app
    from tests.browser.helpers import go_to

    slow = 900_000
    with serve(tmp / "journey.duckdb", tmp / "journey.log", env={"HSS_SAMPLE": "0"}, timeout=120) as url, \
            sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        tab = browser.new_context(viewport={"width": 1440, "height": 900}, base_url=url).new_page()
        tab.goto("/")
        wait_for_app(tab, slow)
        go_to(tab, "Data")
        figures: dict[str, float] = {}

        def measure(name: str, act, ready) -> None:  # noqa: ANN001 - callables
            t = time.perf_counter()
            act()
            ready()
            wait_for_app(tab, slow)
            figures[name] = time.perf_counter() - t - 0.3  # wait_for_app ends with a 300 ms pause
            print(f"browser {name}: {figures[name]:.1f} s", flush=True)

        measure("upload (file chosen → preview and roles shown)",
                lambda: tab.locator('[data-testid="stFileUploaderDropzoneInput"]').set_input_files(str(csv)),
                lambda: tab.get_by_text("the first rows, as text").wait_for(timeout=slow))
        field = tab.get_by_label("Dataset name")
        field.fill("Acme export")
        field.press("Enter")
        wait_for_app(tab, slow)
        measure("save (Save dataset → saved)", lambda: tab.get_by_role("button", name="Save dataset").click(),
                lambda: tab.get_by_text("Saved:").wait_for(timeout=slow))
        measure("Start a model (button → table of candidates)",
                lambda: tab.get_by_role("button", name="Start a model", exact=True).click(),
                lambda: expect(tab.get_by_text("AUC").first).to_be_visible(timeout=slow))
        measure("Create model (button → Tune's live preview)",
                lambda: tab.get_by_role("button", name="Create model", exact=True).click(),
                lambda: tab.locator('[data-testid="stMetric"]').filter(has_text="Red accounts").first
                .wait_for(timeout=slow))
        times = []
        for _ in range(moves):
            box = tab.locator('[data-testid="stMetric"]').filter(has_text="Red accounts").first
            before = box.inner_text()
            thumb = tab.locator('[data-testid="stSlider"]').filter(has_text="Band cut-offs").first \
                .locator('input[type="range"]').first
            thumb.focus()
            t = time.perf_counter()
            tab.keyboard.press("ArrowRight")
            tab.wait_for_function("""(before) => { const b = [...document.querySelectorAll('[data-testid="stMetric"]')]
                .find(x => x.innerText.includes('Red accounts')); return b && b.innerText !== before; }""",
                                  arg=before, timeout=slow, polling=10)
            wait_for_app(tab, slow)
            times.append(time.perf_counter() - t - 0.3)
        print(f"browser slider keypress → preview redrawn: median {statistics.median(times) * 1000:,.0f} ms "
              f"(n={len(times)}, min {min(times) * 1000:,.0f}, max {max(times) * 1000:,.0f})", flush=True)
        measure("first Overview (link → every chart drawn)", lambda: go_to(tab, "Overview"),
                lambda: tab.wait_for_function(
                    "() => { const p = document.querySelectorAll('.js-plotly-plot'); return p.length > 0 && "
                    "p.length === document.querySelectorAll('.js-plotly-plot .main-svg').length / 3; }",
                    timeout=slow))
        if tab.locator('[data-testid="stException"]').count():
            raise RuntimeError("the journey ended on an exception")
        browser.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--moves", type=int, default=7)
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--quick", action="store_true", help="1,000 accounts × 12 monthly snapshots")
    parser.add_argument("--step", choices=STEPS, help=argparse.SUPPRESS)
    parser.add_argument("--csv", help=argparse.SUPPRESS)
    parser.add_argument("--workspace", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step:
        step(args.step, Path(args.csv), Path(args.workspace))
        return
    from tests.foreign import write_foreign_csv

    size = dict(accounts=1000, snapshots=12, freq="MS") if args.quick else \
        dict(accounts=10_000, snapshots=104, freq="W-MON", end="2026-06-01")
    with tempfile.TemporaryDirectory(prefix="hss-bench-own-") as tmp:
        csv = write_foreign_csv(Path(tmp) / "acme_crm_export.csv", **size)
        print(f"export: {csv.stat().st_size / 1e6:,.0f} MB, {size['accounts']:,} accounts × {size['snapshots']} "
              f"snapshots; {os.cpu_count()} CPUs", flush=True)
        in_process(csv, args.runs, Path(tmp))
        if not args.skip_browser:
            browser_journey(csv, args.moves, Path(tmp))


if __name__ == "__main__":
    main()
