"""A JupyterLab server for browser tests: started from the project's venv on a free local port.

Shared by the JupyterLab browser tests (tests/test_lab_browser.py; tests/test_playground_browser.py
can use it too). The server runs with ``JUPYTER_CONFIG_DIR=tools/jupyter`` exactly as ``make lab``
does (the course's custom CSS: right-to-left Persian markdown), serves ``root_dir`` (a scratch
folder) with a fresh token and a private workspace folder, and is always stopped on exit::

    with jupyterlab_server(tmp_path) as (base, token):
        page.goto(f"{base}/lab/tree/notebook.ipynb?reset&token={token}")

Named ``lab_server``, not ``jupyterlab_server``: that is an installed package JupyterLab itself
imports, which a module of that name in tests/ (on sys.path under pytest) would shadow.
"""
from __future__ import annotations

import contextlib
import os
import secrets
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]
LOCAL_PREFIXES = ("http://127.0.0.1", "ws://127.0.0.1", "data:", "blob:", "about:")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def jupyterlab_server(root_dir: Path, *, start_timeout: float = 60.0, stop_timeout: float = 60.0):
    """Start ``jupyter lab`` serving ``root_dir``; yield ``(base_url, token)``; stop it on exit.

    Raises RuntimeError (with the end of the server's log) if it does not answer within
    ``start_timeout`` seconds. The log is written to ``root_dir/lab.log``.
    """
    root_dir = Path(root_dir)
    port, token = free_port(), secrets.token_hex(16)
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {k: v for k, v in os.environ.items() if k != "DLFA_QUIET"}
    env["JUPYTER_CONFIG_DIR"] = str(ROOT / "tools" / "jupyter")
    env["JUPYTERLAB_WORKSPACES_DIR"] = str(root_dir / ".workspaces")  # never restore another session's tabs
    log_path = root_dir / "lab.log"
    log = open(log_path, "w")
    proc = subprocess.Popen([str(jupyter), "lab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
                             f"--ServerApp.token={token}", "--allow-root", f"--ServerApp.root_dir={root_dir}"],
                            cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + start_timeout
        while True:
            try:
                urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2)
                break
            except OSError:
                if time.time() > deadline or proc.poll() is not None:
                    log.flush()
                    raise RuntimeError("JupyterLab did not start:\n" + log_path.read_text()[-3000:])
                time.sleep(0.5)
        yield base, token
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=stop_timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)
        log.close()


# The server's sessions, read by the page (its config holds the base URL and the token).
_SESSIONS = """async () => {
    const c = JSON.parse(document.getElementById('jupyter-config-data').textContent);
    const r = await fetch(c.baseUrl + 'api/sessions?token=' + encodeURIComponent(c.token || ''));
    return r.ok ? (await r.json()).map(s => ({path: s.path, state: s.kernel ? s.kernel.execution_state : null})) : [];
}"""


def open_notebook(page, url: str, *, timeout_ms: int = 90000) -> None:
    """Open a notebook URL in JupyterLab and wait until its kernel is started and idle.

    With a fresh workspace JupyterLab may ask which kernel to start: accept the notebook's own. The
    toolbar's execution indicator says "idle" before any kernel exists, so readiness is read from the
    server: a session for this notebook whose kernel is idle.
    """
    import urllib.parse

    path = urllib.parse.unquote(urllib.parse.urlsplit(url).path.split("/lab/tree/", 1)[1])
    page.goto(url)
    _wait_for_idle_kernel(page, path, timeout_ms)


def _menu(page, menu: str, item: str) -> None:
    page.locator("div.lm-MenuBar-itemLabel", has_text=menu).first.click()
    page.locator(".lm-Menu-itemLabel", has_text=item).first.click()


def open_in_app(page, path: str, *, timeout_ms: int = 90000) -> None:
    """In a JupyterLab page already loaded (``/lab``), open the notebook at ``path`` (relative to the
    server's root) as a student can, File > Open from Path…, and wait until its kernel is idle.

    Several notebooks in one loaded app: loading JupyterLab itself costs a page about 5 s of CPU,
    opening a notebook in it about 2 s."""
    page.wait_for_selector(".jp-DirListing-item", timeout=timeout_ms)  # the app is loaded
    _menu(page, "File", "Open from Path")
    page.locator(".jp-Dialog input").fill(path)
    page.locator(".jp-Dialog .jp-mod-accept").click()
    _wait_for_idle_kernel(page, path, timeout_ms)


def close_all_tabs(page, *, timeout_ms: int = 30000) -> None:
    """File > Close All Tabs; unsaved changes are discarded (a test saves what it checks first)."""
    import time

    _menu(page, "File", "Close All Tabs")
    deadline = time.monotonic() + timeout_ms / 1000
    while page.locator(".jp-Notebook").count():
        discard = page.locator(".jp-Dialog button", has_text="Discard")
        if discard.count():
            discard.first.click()
        assert time.monotonic() < deadline, "JupyterLab did not close its tabs"
        page.wait_for_timeout(100)


def _wait_for_idle_kernel(page, path: str, timeout_ms: int) -> None:
    import time

    dialog = ".jp-Dialog .jp-mod-accept"
    page.wait_for_selector(".jp-Notebook", timeout=timeout_ms)
    deadline = time.monotonic() + timeout_ms / 1000
    while True:
        if page.locator(dialog).count():
            page.locator(dialog).first.click()
        if any(s["path"] == path and s["state"] == "idle" for s in page.evaluate(_SESSIONS)):
            break
        assert time.monotonic() < deadline, f"no idle kernel for {path} after {timeout_ms / 1000:.0f} s"
        page.wait_for_timeout(250)


def run_all_cells(page) -> None:
    """Run every cell from JupyterLab's Run menu."""
    page.locator(".jp-Notebook").click()
    _menu(page, "Run", "Run All Cells")
