"""The lesson in a real browser: JupyterLab from this venv, driven through Debian's chromium by Playwright.

``make test-browser`` runs this. It starts JupyterLab on a free localhost port with a token, opens a copy of the
lesson with QUICK parameters, runs all cells, saves, and checks: the notebook's ``python3`` kernel is this venv's
python and imports ``course_utils``; no cell has an error output; every figure is drawn; the transcription
explorer is a live widget (not a text repr or a headless note); pressing *Transcribe* on the JFK clip shows the
transcript with WER 0 %. Screenshots go to ``build/browser/``. Every process it started is stopped at the end.
Exit status 0 when everything passed, 1 otherwise (what failed is printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import papermill
from playwright.sync_api import Page, sync_playwright

ROOT = Path(__file__).resolve().parent.parent
LESSON = ROOT / "notebooks" / "19_asr_with_whisper.ipynb"
QUICK_PARAMETERS = {"QUICK": True, "COMPARE_MODELS": ["tiny.en"]}  # as in tests/test_wheel.py
RUN_TIMEOUT_S = 1800  # all cells, QUICK: a few minutes on 2 idle cores, 20 min measured at load average 21; --timeout
TRANSCRIBE_TIMEOUT_S = 180
VIEWPORT = {"width": 1400, "height": 1000}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children_of(pid: int) -> set[int]:
    """Every descendant process id of `pid` (from /proc), e.g. the kernels a Jupyter server started."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            parents[int(stat.parent.name)] = int(stat.read_text().rsplit(")", 1)[1].split()[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """True while `pid` exists and is not a zombie."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def lab_environment(state: Path) -> dict[str, str]:
    """The server's environment: private Jupyter dirs (no user-level kernels or settings), widgets forced on."""
    env = dict(os.environ)
    for name in ("JUPYTER_PATH", "JUPYTER_CONFIG_PATH", "MPLBACKEND"):
        env.pop(name, None)
    env.update(
        JUPYTER_PREFER_ENV_PATH="1",  # this venv's python3 kernel wins over any user-level one
        JUPYTER_CONFIG_DIR=str(state / "config"),
        JUPYTER_DATA_DIR=str(state / "data"),
        JUPYTER_RUNTIME_DIR=str(state / "runtime"),
        JUPYTERLAB_WORKSPACES_DIR=str(state / "workspaces"),
        JUPYTERLAB_SETTINGS_DIR=str(state / "settings"),
        COURSE_HEADLESS="0",  # CI=true would otherwise hide the explorer; here a browser renders it
    )
    # every cell stays in the page (no windowing), so figures and outputs can be checked in the DOM
    tracker = state / "settings" / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings"
    tracker.parent.mkdir(parents=True, exist_ok=True)
    tracker.write_text(json.dumps({"windowingMode": "none"}))
    news = state / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True, exist_ok=True)
    news.write_text(json.dumps({"fetchNews": "false"}))  # no "get Jupyter news?" toast over the screenshots
    return env


@contextlib.contextmanager
def jupyter_lab(root_dir: Path, state: Path, port: int, token: str) -> Iterator[subprocess.Popen]:
    """JupyterLab from this venv on 127.0.0.1:`port`; on exit the server, its kernels and their children stop."""
    log = open(state / "jupyterlab.log", "w")  # noqa: SIM115 (closed below)
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", f"--port={port}", "--ServerApp.ip=127.0.0.1",
               f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root_dir}", "--ServerApp.port_retries=0"]
    if os.geteuid() == 0:
        command.append("--allow-root")  # CI containers run as root
    server = subprocess.Popen(command, env=lab_environment(state), stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)  # fmt: skip
    started: set[int] = set()
    try:
        wait_for_server(port, token, server)
        yield server
    finally:
        started = children_of(server.pid) | {server.pid}
        with contextlib.suppress(OSError):
            request(port, token, "/api/shutdown", method="POST")  # stops the kernels cleanly
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGTERM)
            server.wait(timeout=10)
        for pid in started | children_of(server.pid):
            if alive(pid):
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
        log.close()
        time.sleep(0.5)
        left = [pid for pid in started if alive(pid)]
        still = f"; STILL RUNNING: {left}" if left else ""
        print(f"stopped JupyterLab and {len(started) - 1} child process(es){still}")


def request(port: int, token: str, path: str, method: str = "GET") -> dict | list:
    """A JSON call to the Jupyter server's REST API."""
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 headers={"Authorization": f"token {token}"})  # fmt: skip
    with urllib.request.urlopen(req, timeout=10) as response:
        body = response.read()
    return json.loads(body) if body else {}


def wait_for_server(port: int, token: str, server: subprocess.Popen, timeout_s: float = 120) -> None:
    """Block until the server answers /api/status (or fail when it exits or takes too long)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"JupyterLab exited with status {server.returncode} (see jupyterlab.log)")
        with contextlib.suppress(OSError):
            request(port, token, "/api/status")
            return
        time.sleep(0.5)
    raise RuntimeError(f"JupyterLab did not answer on port {port} within {timeout_s:.0f} s")


def quick_copy(source: Path, dest: Path) -> Path:
    """The notebook with QUICK parameters injected (papermill's parameter cell), outputs none, in `dest`."""
    notebook = papermill.iorw.load_notebook_node(str(source))
    if any("parameters" in cell.metadata.get("tags", []) for cell in notebook.cells):
        notebook = papermill.parameterize.parameterize_notebook(notebook, QUICK_PARAMETERS)
    target = dest / source.name
    papermill.iorw.write_ipynb(notebook, str(target))
    return target


def prompts(page: Page) -> list[str]:
    """The input prompts of all code cells ('[3]:', '[*]:', '[ ]:')."""
    return page.eval_on_selector_all(".jp-CodeCell .jp-InputPrompt", "els => els.map(e => e.textContent.trim())")


def run_all_cells(page: Page, timeout_s: float = RUN_TIMEOUT_S) -> float:
    """Run → Run All Cells, then wait until every code cell has an execution count; returns seconds taken."""
    started = time.monotonic()
    page.click("div.lm-MenuBar-itemLabel:text-is('Run')")
    page.click("li.lm-Menu-item:has-text('Run All Cells')")
    page.wait_for_timeout(2000)
    while time.monotonic() - started < timeout_s:
        shown = prompts(page)
        if shown and all(p.startswith("[") and p[1:-2].strip().isdigit() for p in shown):
            return time.monotonic() - started
        page.wait_for_timeout(1000)
    pending = [i for i, p in enumerate(prompts(page)) if not p[1:-2].strip().isdigit()]
    raise TimeoutError(f"cells still running or not run after {timeout_s:.0f} s: code cells {pending[:5]}")


def check(failures: list[str], ok: bool, what: str) -> None:
    """Record a check: printed either way, collected when it failed."""
    print(("PASS " if ok else "FAIL ") + what)
    if not ok:
        failures.append(what)


def drive(page: Page, url: str, notebook: Path, out: Path, failures: list[str], min_figures: int,
          timeout_s: float) -> dict:
    """Open the lesson, run it, check outputs, press Transcribe; screenshots into `out`."""
    timings: dict[str, float] = {}
    page.goto(url)
    page.wait_for_selector(".jp-NotebookPanel .jp-Notebook .jp-Cell", timeout=120_000)
    # the kernel the notebook asked for (python3) starts by itself: the status bar says "<kernel> | Idle"
    kernel_ready = page.locator(".jp-StatusBar-Widget").get_by_text(re.compile(r"\| Idle"))
    dialog = page.locator(".jp-Dialog:has-text('Select Kernel')")
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline and not kernel_ready.count() and not dialog.count():
        page.wait_for_timeout(500)
    page.screenshot(path=out / "01-opened.png")
    check(failures, not dialog.count(), "the notebook's python3 kernel started without a 'Select Kernel' dialog")
    if dialog.count():
        dialog.locator("button:has-text('Select')").click()
    kernel_ready.first.wait_for(timeout=120_000)
    timings["run_all_s"] = run_all_cells(page, timeout_s)
    page.keyboard.press("Control+s")
    page.wait_for_timeout(2000)
    page.screenshot(path=out / "02-ran.png")

    saved = json.loads(notebook.read_text(encoding="utf-8"))
    outputs = [o for cell in saved["cells"] if cell["cell_type"] == "code" for o in cell.get("outputs", [])]
    errors = [f"{o['ename']}: {o['evalue']}" for o in outputs if o["output_type"] == "error"]
    check(failures, not errors, f"no cell has an error output ({'; '.join(errors)[:300] or 'none'})")
    figures = sum("image/png" in o.get("data", {}) for o in outputs)
    drawn = page.eval_on_selector_all(".jp-RenderedImage img", "els => els.filter(e => e.naturalWidth > 0).length")
    check(failures, figures >= min_figures and drawn >= figures,
          f"figures rendered: {drawn} drawn in the page, {figures} saved")  # fmt: skip
    first = page.locator(".jp-RenderedImage img").first
    if first.count():
        first.scroll_into_view_if_needed()
        page.screenshot(path=out / "03-figure.png")

    button = page.locator("button:has-text('Transcribe')")
    explorer = page.locator(".jp-OutputArea-output .widget-vbox").filter(has=button)
    check(failures, explorer.count() == 1, "the transcription explorer rendered as a widget (a VBox with Transcribe)")
    broken = page.locator("text=/Error displaying widget|Loading widget|VBox\\(children/")
    check(failures, broken.count() == 0, "no widget shown as an error, a loading placeholder or a text repr")
    if explorer.count() != 1:
        return timings
    explorer.scroll_into_view_if_needed()
    dropdowns = explorer.locator(".widget-dropdown select")
    check(failures, dropdowns.count() == 2, "the explorer has its model and clip dropdowns")
    clip = dropdowns.nth(1).input_value() if dropdowns.count() == 2 else ""  # the option's label
    check(failures, clip.startswith("jfk"), f"the clip dropdown starts on the JFK clip ({clip!r})")
    explorer.screenshot(path=out / "04-explorer.png")
    started = time.monotonic()
    explorer.locator("button:has-text('Transcribe')").click()
    result = explorer.locator("table:has-text('transcript')")
    try:
        result.wait_for(timeout=TRANSCRIBE_TIMEOUT_S * 1000)
    except Exception:  # noqa: BLE001 (a missing transcript is a failed check, with a screenshot)
        explorer.screenshot(path=out / "05-transcribed.png")
        check(failures, False, f"a transcript appeared within {TRANSCRIBE_TIMEOUT_S} s of pressing Transcribe")
        return timings
    timings["transcribe_s"] = time.monotonic() - started
    text = result.inner_text()
    explorer.screenshot(path=out / "05-transcribed.png")
    check(failures, "ask not what your country can do for you" in text.lower(), "the transcript is JFK's sentence")
    check(failures, "WER\t0.0 %" in text or "WER 0.0 %" in " ".join(text.split()), "WER 0.0 % on JFK")
    check(failures, explorer.locator("audio").count() >= 1, "an audio player follows the result")
    return timings


def main(argv: list[str] | None = None) -> int:
    """Command line: run the browser test, print PASS/FAIL lines and the timings; 1 when a check failed."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chromium", default="/usr/bin/chromium", help="the browser binary (Debian's chromium)")
    parser.add_argument("--out", type=Path, default=ROOT / "build" / "browser", help="screenshots and logs")
    parser.add_argument("--notebook", type=Path, default=LESSON, help="the notebook (default: the lesson)")
    parser.add_argument("--min-figures", type=int, default=5, help="fewest figures the notebook must draw")
    parser.add_argument("--timeout", type=float, default=RUN_TIMEOUT_S, help="seconds for running all cells")
    args = parser.parse_args(argv)
    if not Path(args.chromium).is_file():
        print(f"no browser at {args.chromium}: apt-get install chromium (make test-browser does)")
        return 1
    out = args.out.resolve()
    shutil.rmtree(out, ignore_errors=True)
    (out / "lab").mkdir(parents=True)
    state = out / "jupyter"
    state.mkdir()
    notebook = quick_copy(args.notebook.resolve(), out / "lab")
    port, token = free_port(), secrets.token_hex(16)
    failures: list[str] = []
    started = time.monotonic()
    with jupyter_lab(out / "lab", state, port, token):
        specs = request(port, token, "/api/kernelspecs")
        python3 = specs["kernelspecs"].get("python3", {}).get("spec", {})
        argv0 = (python3.get("argv") or ["?"])[0]
        venv_python = Path(sys.executable)
        check(failures, specs["default"] == "python3" and Path(argv0).parent == venv_python.parent,
              f"default kernel python3 runs this venv's python ({argv0})")  # fmt: skip
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=args.chromium, headless=True,
                                                 args=["--no-sandbox", "--disable-dev-shm-usage"])  # fmt: skip
            try:
                page = browser.new_page(viewport=VIEWPORT)
                url = f"http://127.0.0.1:{port}/lab/tree/{notebook.name}?token={token}&reset"
                try:
                    timings = drive(page, url, notebook, out, failures, args.min_figures, args.timeout)
                except Exception as error:  # noqa: BLE001 (report, screenshot, then fail)
                    page.screenshot(path=out / "99-failure.png")
                    check(failures, False, f"the browser session ran to the end ({type(error).__name__}: {error})")
                    timings = {}
            finally:
                browser.close()
    timings["total_s"] = time.monotonic() - started
    (out / "timings.json").write_text(json.dumps(timings, indent=1))
    print("timings: " + ", ".join(f"{k} {v:.0f} s" for k, v in timings.items()))
    print(f"screenshots: {', '.join(sorted(p.name for p in out.glob('*.png')))} in {out}")
    if failures:
        print(f"{len(failures)} check(s) failed")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
