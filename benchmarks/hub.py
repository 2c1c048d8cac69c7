"""A class on a real JupyterHub, on this machine: N simulated students run lab 1 at the same time.

    .venv/bin/python -m benchmarks.hub [--users 20] [--ramp 30,40] [--out benchmarks/hub_report.md]
    .venv/bin/python -m benchmarks.hub --labs          # every lab's kernel memory and CPU, one student

What one run does (``run_class``), every step over loopback only:

1. clones the course (``git clone --depth 1 file://<repo>``: the committed tree) into a temporary
   folder: the "course repository" the hub pulls from, as a class hub pulls from the public one;
2. generates lab 1's answer key with the homework tool (``tools/homework.py generate``);
3. starts JupyterHub (``deploy/local/jupyterhub_config.py``: configurable-http-proxy from npm,
   DummyAuthenticator, SimpleLocalProcessSpawner) under ``timeout``, so it stops by itself;
4. each student, concurrently: logs in through the REST API (a token from
   ``POST /hub/api/users/<name>/tokens`` with username and password), starts a server
   (``POST /hub/api/users/<name>/server``) and waits until the hub reports it ready; follows the
   lab page's «باز کردن در JupyterHub» link (``_ext/hub_launch.py``: hub -> user-redirect ->
   nbgitpuller's page) and runs the pull nbgitpuller's page runs (``git-pull/api``); opens the
   pulled student notebook through the Contents API, writes the answers into it, saves it, starts
   a kernel for it (Sessions API) and executes every code cell over the kernel's WebSocket, in
   order, failing on the first error;
5. one student copies the answered notebook into ``~/submit/``; the instructor's command
   (``tools/collect.py``) collects it from the homes and grades it with ``tools/homework.py``;
6. stops the servers, the hub and the proxy, and checks that no process of the run is left.

Measured: time from the start request to a ready server (median, p95), the pull time, lab-1
execution time under contention, the peak resident memory of each student (server + kernel),
of the hub and of the proxy (sampled from /proc every 0.5 s), failures, and the machine's load.
"""
from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from urllib.parse import quote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
CONFIG = ROOT / "deploy" / "local" / "jupyterhub_config.py"
PROXY = ROOT / "node_modules" / ".bin" / "configurable-http-proxy"
LAB = "lab1_batchnorm"
LAB_PATH = f"labs/student/{LAB}.ipynb"
TARGET = "dl-fa-course"
PASSWORD = "class-test"  # DummyAuthenticator accepts any password; one is sent to exercise the login

sys.path.insert(0, str(ROOT / "_ext"))
from hub_launch import nbgitpuller_link  # noqa: E402  (the book's button builds the same link)


class HubError(RuntimeError):
    pass


# ----------------------------------------------------------------------------- small helpers
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, q):
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    import math

    v = sorted(values)
    return v[max(0, min(len(v) - 1, math.ceil(q / 100 * len(v)) - 1))]


def _children_map():
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(b")") + 2:].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def _tree(pid, kids):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def rss_mb(pid) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_s(pid) -> float:
    """User + system CPU seconds of one process so far (its own, not its children's)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return 0.0


def _environ(pid) -> dict:
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            raw = f.read()
    except OSError:
        return {}
    env = {}
    for item in raw.split(b"\0"):
        if b"=" in item:
            k, v = item.split(b"=", 1)
            env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def _cmdline(pid) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")[:200]
    except OSError:
        return f"pid {pid} (gone)"


def run_processes(marker: str) -> list[int]:
    """Every process whose environment carries this run's marker (students' servers and kernels)."""
    me = os.getpid()
    return [int(d) for d in os.listdir("/proc")
            if d.isdigit() and int(d) != me and _environ(int(d)).get("DLFA_HUB_RUN") == marker]


class MemorySampler(threading.Thread):
    """Peak RSS of the hub, the proxy and each student's server + kernels, every ``interval`` s."""

    def __init__(self, hub_pid: int, marker: str, interval: float = 0.5):
        super().__init__(daemon=True)
        self.hub_pid, self.marker, self.interval = hub_pid, marker, interval
        self.peak = {"hub": 0.0, "proxy": 0.0}
        self.users: dict[str, float] = {}
        self.cpu: dict[tuple[str, int], float] = {}  # (user, pid) -> CPU seconds, last seen
        self._user_pid: dict[int, str] = {}
        self._halt = threading.Event()

    def sample(self):
        kids = _children_map()
        hub_tree = _tree(self.hub_pid, kids)
        self.peak["hub"] = max(self.peak["hub"], rss_mb(self.hub_pid))
        for p in kids.get(self.hub_pid, []):
            try:
                cmd = Path(f"/proc/{p}/cmdline").read_bytes()
            except OSError:
                continue
            if b"configurable-http-proxy" in cmd:
                self.peak["proxy"] = max(self.peak["proxy"], sum(rss_mb(q) for q in _tree(p, kids)))
        for p in run_processes(self.marker):
            if p not in self._user_pid:
                env = _environ(p)
                if "JUPYTERHUB_USER" in env and b"singleuser" in Path(f"/proc/{p}/cmdline").read_bytes():
                    self._user_pid[p] = env["JUPYTERHUB_USER"]
        for p, user in list(self._user_pid.items()):
            tree = _tree(p, kids)
            for q in tree:
                self.cpu[(user, q)] = max(self.cpu.get((user, q), 0.0), cpu_s(q))
            total = sum(rss_mb(q) for q in tree)
            if total == 0:
                continue
            self.users[user] = max(self.users.get(user, 0.0), total)
        del hub_tree

    def run(self):
        while not self._halt.is_set():
            try:
                self.sample()
            except Exception:  # a process vanished mid-read: next sample
                pass
            self._halt.wait(self.interval)

    def user_cpu(self) -> dict[str, float]:
        """CPU seconds each student's server and kernels used (as last sampled)."""
        out: dict[str, float] = {}
        for (user, _), v in self.cpu.items():
            out[user] = out.get(user, 0.0) + v
        return out

    def stop(self):
        self._halt.set()
        self.join(5)


# ----------------------------------------------------------------------------- the course repo
def clone_course(dest: Path, source: Path = ROOT) -> Path:
    """A local course repository, as the hub will pull it: the committed tree of ``source``."""
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", "--branch", branch_of(source),
                    f"file://{source}", str(dest)], check=True, capture_output=True, text=True)
    return dest


def branch_of(repo: Path) -> str:
    out = subprocess.run(["git", "-C", str(repo), "rev-parse", "--abbrev-ref", "HEAD"],
                         capture_output=True, text=True, check=True).stdout.strip()
    return out if out and out != "HEAD" else "main"


def answer_key(dist: Path, course: Path, lab: str = LAB) -> dict[int, str]:
    """Cell index -> solved source, from the autograder notebook the course's own homework tool
    (``course/tools/homework.py generate``, so the same commit the students pull) writes."""
    solved = dist / lab / "autograder" / f"{lab}.ipynb"
    if not solved.exists():
        res = subprocess.run([str(BIN / "python"), str(course / "tools" / "homework.py"), "generate", lab,
                              "--dist", str(dist), "--no-pages"], capture_output=True, text=True, cwd=course)
        if res.returncode != 0 or not solved.exists():
            raise HubError(f"homework.py generate {lab} failed:\n{res.stdout}\n{res.stderr}")
    return {i: "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for i, c in enumerate(json.loads(solved.read_text(encoding="utf-8"))["cells"])}


def answered(student_nb: dict, key: dict[int, str]) -> dict:
    """The student's notebook with every unanswered code cell (otter's ``...``) filled in."""
    nb = json.loads(json.dumps(student_nb))
    if len(nb["cells"]) != len(key):
        raise HubError(f"pulled notebook has {len(nb['cells'])} cells, the answer key {len(key)}")
    changed = 0
    for i, cell in enumerate(nb["cells"]):
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if cell["cell_type"] == "code" and src != key[i]:
            if "..." not in src:
                raise HubError(f"cell {i} differs from the answer key but is not an exercise")
            cell["source"] = key[i]
            changed += 1
    if not changed:
        raise HubError("no exercise cell found in the pulled notebook")
    return nb


# ----------------------------------------------------------------------------- the hub
@dataclass
class Hub:
    run_dir: Path
    users: list[str]
    admins: list[str] = field(default_factory=list)
    max_seconds: int = 900
    spawn_timeout: int = 300
    marker: str = field(default_factory=lambda: uuid.uuid4().hex)
    proc: subprocess.Popen | None = None

    def __post_init__(self):
        self.port, self.api_port, self.proxy_api_port = free_port(), free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = self.run_dir / "jupyterhub.log"

    @property
    def homes(self) -> Path:
        return self.run_dir / "home"

    def start(self, wait: float = 240):
        if not PROXY.exists():
            raise HubError(f"{PROXY} is missing: run `npm ci` (configurable-http-proxy is in package.json)")
        self.run_dir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ,
               "DLFA_HUB_DIR": str(self.run_dir), "DLFA_HUB_USERS": ",".join(self.users),
               "DLFA_HUB_ADMINS": ",".join(self.admins), "DLFA_HUB_PORT": str(self.port),
               "DLFA_HUB_API_PORT": str(self.api_port), "DLFA_PROXY_API_PORT": str(self.proxy_api_port),
               "DLFA_HUB_RUN": self.marker, "DLFA_HUB_TIMEOUT": str(self.spawn_timeout),
               "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
        log = open(self.log_path, "ab")
        # `timeout` makes the hub stop by itself even if this process dies: TERM, then KILL 20 s later
        cmd = ["timeout", "--signal=TERM", "--kill-after=20", str(self.max_seconds),
               str(BIN / "jupyterhub"), "-f", str(CONFIG)]
        self.proc = subprocess.Popen(cmd, cwd=self.run_dir, env=env, stdout=log, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        log.close()
        deadline = time.monotonic() + wait
        import urllib.request
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise HubError(f"jupyterhub exited with {self.proc.returncode}:\n{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/hub/api/", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                time.sleep(0.5)
        raise HubError(f"jupyterhub did not answer within {wait} s:\n{self.log_tail()}")

    @property
    def hub_pid(self) -> int:
        """The jupyterhub process (the child of `timeout`)."""
        kids = _children_map().get(self.proc.pid, [])
        return kids[0] if kids else self.proc.pid

    def log_tail(self, n=4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-n:]
        except OSError:
            return ""

    def stop(self) -> list[int]:
        """Stop the hub (which stops the servers and the proxy); kill what is left. Returns leftovers."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        left = run_processes(self.marker)
        self.leftovers = [_cmdline(p) for p in left]
        proxy_pid = self.run_dir / "proxy.pid"
        for pid in left:  # only processes of this run (marked in their environment)
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        if proxy_pid.exists():
            try:
                pid = int(proxy_pid.read_text().strip())
                if b"configurable-http-proxy" in Path(f"/proc/{pid}/cmdline").read_bytes():
                    os.kill(pid, signal.SIGKILL)
                    left.append(pid)
            except (OSError, ValueError):
                pass
        return left


# ----------------------------------------------------------------------------- one student
@dataclass
class StudentResult:
    name: str
    ok: bool = False
    stage: str = ""
    error: str = ""
    login_s: float = 0.0
    ready_s: float = 0.0
    pull_s: float = 0.0
    exec_s: float = 0.0
    cells: int = 0
    submitted: bool = False


async def _fetch(client, url, *, method="GET", token=None, body=None, timeout=600, ok=(200, 201, 202, 204),
                 follow=False):
    from tornado.httpclient import HTTPClientError, HTTPRequest
    headers = {"Authorization": f"token {token}"} if token else {}
    if body is not None and not isinstance(body, (bytes, str)):
        body, headers["Content-Type"] = json.dumps(body), "application/json"
    req = HTTPRequest(url, method=method, headers=headers, body=body, request_timeout=timeout,
                      connect_timeout=60, follow_redirects=follow, allow_nonstandard_methods=True)
    try:
        resp = await client.fetch(req, raise_error=False)
    except HTTPClientError as e:  # pragma: no cover - raise_error=False returns instead
        resp = e.response
    if resp.code not in ok:
        text = resp.body.decode(errors="replace")[:500] if resp.body else str(resp.error)
        raise HubError(f"{method} {urlsplit(url).path} -> {resp.code}: {text}")
    return resp


async def execute_notebook(ws_url: str, token: str, cells: list[str], timeout: float) -> int:
    """Execute ``cells`` in order on the kernel behind ``ws_url``; raise on the first error."""
    from tornado.httpclient import HTTPRequest
    from tornado.websocket import websocket_connect

    session = uuid.uuid4().hex
    # the server answers the WebSocket hand-shake once the kernel replies: slow on a loaded machine
    conn = await websocket_connect(HTTPRequest(ws_url, headers={"Authorization": f"token {token}"},
                                               connect_timeout=300, request_timeout=300))
    deadline = time.monotonic() + timeout
    try:
        for n, code in enumerate(cells):
            msg_id = uuid.uuid4().hex
            await conn.write_message(json.dumps({
                "header": {"msg_id": msg_id, "msg_type": "execute_request", "username": "student",
                           "session": session, "date": "", "version": "5.3"},
                "parent_header": {}, "metadata": {}, "channel": "shell", "buffers": [],
                "content": {"code": code, "silent": False, "store_history": True, "user_expressions": {},
                            "allow_stdin": False, "stop_on_error": True}}))
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise HubError(f"lab execution passed {timeout} s (at cell {n})")
                raw = await asyncio.wait_for(conn.read_message(), left)
                if raw is None:
                    raise HubError(f"kernel connection closed at cell {n}")
                if isinstance(raw, bytes):
                    continue  # binary messages (buffers) are not replies
                msg = json.loads(raw)
                if msg.get("parent_header", {}).get("msg_id") != msg_id:
                    continue
                if msg.get("channel") == "shell" and msg["header"]["msg_type"] == "execute_reply":
                    c = msg["content"]
                    if c.get("status") != "ok":
                        raise HubError(f"cell {n} failed: {c.get('ename')}: {c.get('evalue')}")
                    break
        return len(cells)
    finally:
        conn.close()


def follow_lab_link(hub_url: str, name: str, link: str) -> str:
    """What a browser does with the lab page's button: log in with the form, follow the link's
    redirects (hub -> user-redirect -> the student's server, with its OAuth hand-shake) to
    nbgitpuller's page. Returns that page's address."""
    import re

    import requests

    with requests.Session() as web:
        page = web.get(f"{hub_url}/hub/login", timeout=120)
        m = re.search(r'name="_xsrf"\s+value="([^"]+)"', page.text)
        form = {"username": name, "password": PASSWORD, **({"_xsrf": m.group(1)} if m else {})}
        resp = web.post(f"{hub_url}/hub/login", data=form, timeout=120)
        if resp.status_code != 200 or "/hub/login" in resp.url:
            raise HubError(f"login form: {resp.status_code} at {resp.url}")
        resp = web.get(link, timeout=300)
        if resp.status_code != 200 or f"/user/{name}/git-pull?" not in resp.url:
            raise HubError(f"the lab link ended at {resp.url} ({resp.status_code}), not at nbgitpuller's page")
        if "git-pull" not in resp.text:
            raise HubError("nbgitpuller's page did not come back")
        return resp.url


async def student(hub: Hub, client, name: str, repo: str, branch: str, key: dict, *, submit: bool,
                  start_gate: asyncio.Event, exec_timeout: float) -> StudentResult:
    r = StudentResult(name)
    api = f"{hub.url}/hub/api"
    try:
        r.stage = "login"
        t = time.monotonic()
        resp = await _fetch(client, f"{api}/users/{name}/tokens", method="POST",
                            body={"auth": {"username": name, "password": PASSWORD}, "note": "class benchmark"})
        token = json.loads(resp.body)["token"]
        r.login_s = time.monotonic() - t
        await start_gate.wait()  # every student presses "start" at the same moment

        r.stage = "spawn"
        t = time.monotonic()
        await _fetch(client, f"{api}/users/{name}/server", method="POST", token=token, body={})
        while True:
            model = json.loads((await _fetch(client, f"{api}/users/{name}", token=token)).body)
            server = (model.get("servers") or {}).get("")
            if server and server.get("ready"):
                break
            if not server or (not server.get("pending") and not server.get("ready")):
                raise HubError(f"server stopped while starting: {server}")
            if time.monotonic() - t > hub.spawn_timeout + 30:
                raise HubError("server not ready in time")
            await asyncio.sleep(0.5)
        r.ready_s = time.monotonic() - t
        user = f"{hub.url}/user/{name}"

        r.stage = "pull"
        t = time.monotonic()
        link = nbgitpuller_link(hub.url, repo, LAB_PATH, branch=branch, targetpath=TARGET)
        location = await asyncio.to_thread(follow_lab_link, hub.url, name, link)
        query = location.split("?", 1)[1]
        stream = await _fetch(client, f"{user}/git-pull/api?{query}", token=token, timeout=300)
        events = [json.loads(line[5:]) for line in stream.body.decode().splitlines() if line.startswith("data:")]
        if not events or events[-1].get("phase") != "finished":
            raise HubError(f"nbgitpuller did not finish: {events[-3:]}")
        r.pull_s = time.monotonic() - t

        r.stage = "open"
        path = f"{TARGET}/{LAB_PATH}"
        nb = json.loads((await _fetch(client, f"{user}/api/contents/{quote(path)}?content=1", token=token)).body)
        solved = answered(nb["content"], key)
        await _fetch(client, f"{user}/api/contents/{quote(path)}", method="PUT", token=token,
                     body={"type": "notebook", "format": "json", "content": solved})

        r.stage = "execute"
        sess = json.loads((await _fetch(client, f"{user}/api/sessions", method="POST", token=token, body={
            "path": path, "name": f"{LAB}.ipynb", "type": "notebook", "kernel": {"name": "python3"}})).body)
        kernel = sess["kernel"]["id"]
        code = ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
                for c in solved["cells"] if c["cell_type"] == "code"]
        t = time.monotonic()
        ws = user.replace("http://", "ws://") + f"/api/kernels/{kernel}/channels"
        r.cells = await execute_notebook(ws, token, code, exec_timeout)
        r.exec_s = time.monotonic() - t

        if submit:
            r.stage = "submit"
            await _fetch(client, f"{user}/api/contents/submit", method="PUT", token=token,
                         body={"type": "directory"}, ok=(200, 201))
            await _fetch(client, f"{user}/api/contents/submit/{LAB}.ipynb", method="PUT", token=token,
                         body={"type": "notebook", "format": "json", "content": solved})
            r.submitted = True
        await _fetch(client, f"{user}/api/sessions/{sess['id']}", method="DELETE", token=token)
        r.stage, r.ok = "done", True
    except Exception as e:  # one student's failure is a result, not the end of the class
        r.error = f"{type(e).__name__}: {e}"[:600]
    return r


# ----------------------------------------------------------------------------- a class
def load() -> str:
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def run_class(n: int, work: Path, *, repo_source: Path = ROOT, submitters: int = 1, grade: bool = True,
              max_seconds: int = 1500, exec_timeout: float = 900, dist: Path | None = None,
              log=print) -> dict:
    """Run one class of ``n`` students end to end; return the measurements (see the module doc)."""
    work.mkdir(parents=True, exist_ok=True)
    t_all = time.monotonic()
    course = clone_course(work / "course", repo_source)
    branch = branch_of(course)
    key = answer_key(dist or (work / "dist"), course)
    names = [f"student{i:03d}" for i in range(1, n + 1)]
    hub = Hub(work / "hub", names, admins=["instructor"], max_seconds=max_seconds)
    load_before = load()
    log(f"hub: {n} students, load {load_before}")
    hub.start()
    sampler = MemorySampler(hub.hub_pid, hub.marker)
    sampler.start()
    results: list[StudentResult] = []
    collect = None
    try:
        async def main():
            from tornado.httpclient import AsyncHTTPClient
            AsyncHTTPClient.configure(None, max_clients=max(10, 4 * n))
            client = AsyncHTTPClient()
            gate = asyncio.Event()
            tasks = [asyncio.ensure_future(student(hub, client, nm, f"file://{course}", branch, key,
                                                   submit=i < submitters, start_gate=gate,
                                                   exec_timeout=exec_timeout))
                     for i, nm in enumerate(names)]
            await asyncio.sleep(0.1)
            gate.set()
            return await asyncio.gather(*tasks)

        results = asyncio.run(main())
        load_peak = load()
        if grade and any(r.submitted for r in results):
            out = work / "collected"
            cmd = [str(BIN / "python"), str(ROOT / "tools" / "collect.py"), str(hub.homes), "--lab", LAB,
                   "--pattern", "{student}/submit/{lab}.ipynb", "--deadline", "2100-01-01T00:00:00+00:00",
                   "--out", str(out), "-j", "1", "--dist", str(dist or (work / "dist"))]
            t = time.monotonic()
            res = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, timeout=900)
            collect = {"returncode": res.returncode, "seconds": round(time.monotonic() - t, 1),
                       "stdout": res.stdout[-3000:], "stderr": res.stderr[-3000:], "out": str(out)}
    finally:
        sampler.stop()
        leftovers = hub.stop()
    ok = [r for r in results if r.ok]
    ready = [r.ready_s for r in results if r.ready_s]
    execs = [r.exec_s for r in ok]
    pulls = [r.pull_s for r in ok]
    users_rss = sorted(sampler.users.values())
    users_cpu = sorted(sampler.user_cpu().values())
    summary = {
        "users": n, "ok": len(ok), "failed": n - len(ok),
        "failures": [{"name": r.name, "stage": r.stage, "error": r.error} for r in results if not r.ok],
        "ready_median_s": round(statistics.median(ready), 1) if ready else None,
        "ready_p95_s": round(percentile(ready, 95), 1) if ready else None,
        "ready_max_s": round(max(ready), 1) if ready else None,
        "pull_median_s": round(statistics.median(pulls), 1) if pulls else None,
        "exec_median_s": round(statistics.median(execs), 1) if execs else None,
        "exec_p95_s": round(percentile(execs, 95), 1) if execs else None,
        "exec_max_s": round(max(execs), 1) if execs else None,
        "user_rss_median_mb": round(statistics.median(users_rss)) if users_rss else None,
        "user_rss_max_mb": round(max(users_rss)) if users_rss else None,
        "user_cpu_median_s": round(statistics.median(users_cpu), 1) if users_cpu else None,
        "hub_rss_mb": round(sampler.peak["hub"]), "proxy_rss_mb": round(sampler.peak["proxy"]),
        "load_before": load_before, "load_after_class": load_peak if results else None, "load_end": load(),
        "wall_s": round(time.monotonic() - t_all, 1), "leftover_processes": len(leftovers),
        "leftovers": getattr(hub, "leftovers", []),
        "collect": collect, "students": [asdict(r) for r in results],
    }
    return summary


# ----------------------------------------------------------------------------- every lab, one student
def lab_memory(work: Path, repo_source: Path = ROOT, timeout: int = 900) -> list[dict]:
    """Peak resident memory (VmHWM) and CPU time of one kernel running each lab's solved source
    notebook (the committed ``labs/source/lab*.ipynb``), one at a time, one thread, via nbclient:
    what one student costs on each lab, beside lab 1 measured on the hub."""
    import nbformat
    from nbclient import NotebookClient

    course = clone_course(work / "course-labs", repo_source)
    rows = []
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    for src in sorted((course / "labs" / "source").glob("lab*.ipynb")):
        nb = nbformat.read(src, as_version=4)
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                resources={"metadata": {"path": str(src.parent)}})
        row = {"lab": src.stem, "ok": False}
        t = time.monotonic()
        try:
            with client.setup_kernel():
                pid = client.km.provisioner.pid
                for i, cell in enumerate(nb.cells):
                    client.execute_cell(cell, i)
                with open(f"/proc/{pid}/status") as f:
                    status = dict(line.split(":", 1) for line in f)
                kids = _tree(pid, _children_map())
                row.update(peak_rss_mb=round(int(status["VmHWM"].split()[0]) / 1024),
                           cpu_s=round(sum(cpu_s(q) for q in kids), 1), ok=True)
        except Exception as e:  # a failing lab is a result
            row["error"] = f"{type(e).__name__}: {e}"[:300]
        row["wall_s"] = round(time.monotonic() - t, 1)
        print(json.dumps(row), flush=True)
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- the report
def machine() -> dict:
    mem = {}
    with open("/proc/meminfo") as f:
        for line in f:
            k, v = line.split(":")
            mem[k] = int(v.split()[0]) // 1024
    cpu = next((ln.split(":", 1)[1].strip() for ln in open("/proc/cpuinfo") if ln.startswith("model name")), "?")
    return {"cpu": cpu, "cores": os.cpu_count(), "mem_total_mb": mem.get("MemTotal"),
            "mem_available_mb": mem.get("MemAvailable"), "python": platform.python_version()}


def lab_table(labs) -> list[str]:
    if not labs:
        return []
    out = ["Every lab, one student at a time (`--labs`): one kernel executes the lab's solved source notebook "
           "with nbclient, one CPU thread. Peak RSS = the kernel's VmHWM (add ~140 MB for the student's "
           "JupyterLab server); CPU = the kernel's user + system seconds.", "",
           "| lab | ok | kernel peak RSS (MB) | CPU (s) | wall (s) |", "|---|---|---:|---:|---:|"]
    for r in labs:
        out.append(f"| {r['lab']} | {'yes' if r['ok'] else 'no: ' + r.get('error', '')[:80]} | "
                   f"{r.get('peak_rss_mb', '—')} | {r.get('cpu_s', '—')} | {r['wall_s']} |")
    return out + [""]


def report(runs: list[dict], info: dict) -> str:
    rows = ["| students | ok | failed | ready median / p95 / max (s) | pull median (s) | lab 1 median / p95 / max (s) "
            "| per-user RSS median / max (MB) | CPU per student (s) | hub RSS (MB) | proxy RSS (MB) "
            "| load before → after the class |",
            "|---:|---:|---:|---|---:|---|---|---:|---:|---:|---|"]
    for s in runs:
        rows.append(f"| {s['users']} | {s['ok']} | {s['failed']} | {s['ready_median_s']} / {s['ready_p95_s']} / "
                    f"{s['ready_max_s']} | {s['pull_median_s']} | {s['exec_median_s']} / {s['exec_p95_s']} / "
                    f"{s['exec_max_s']} | {s['user_rss_median_mb']} / {s['user_rss_max_mb']} | "
                    f"{s.get('user_cpu_median_s', '—')} | {s['hub_rss_mb']} | "
                    f"{s['proxy_rss_mb']} | {s['load_before']} → {s['load_after_class']} |")
    fails = [f"- {s['users']} students: {f['name']} at {f['stage']}: {f['error']}" for s in runs for f in s["failures"]]
    collects = [f"- {s['users']} students: collect + grade exit {s['collect']['returncode']} in "
                f"{s['collect']['seconds']} s" for s in runs if s.get("collect")]
    return "\n".join([
        "# A class on a real JupyterHub: benchmark", "",
        "Written by `.venv/bin/python -m benchmarks.hub` (see its docstring for every step). "
        "JupyterHub " + info.get("jupyterhub", "?") + ", configurable-http-proxy " + info.get("chp", "?") +
        ", DummyAuthenticator + SimpleLocalProcessSpawner, loopback only. Each student logs in through the "
        "REST API, starts a server, pulls the course with the lab page's nbgitpuller link from a local git "
        "clone, writes the answers into lab 1 and executes all its code cells in their own kernel "
        "(one CPU thread per kernel), all students at once.", "",
        f"Machine: {info['cpu']}, {info['cores']} logical cores, {info['mem_total_mb']} MB memory, "
        f"Python {info['python']}. Date: {info['date']}.", "",
        "**The machine was shared** with other work while this ran (the load averages below are "
        "`/proc/loadavg`, 1/5/15 min, before the class and right after the last student finished): the "
        "times are pessimistic for a dedicated machine, and the 2 cores are the bottleneck. Memory is "
        "not affected by the sharing.", "",
        *rows, "",
        "Ready = from the start request to the hub reporting the server ready (includes JupyterLab's start). "
        "Lab 1 = executing its code cells in the student's kernel (all students at the same time). "
        "Per-user RSS = peak resident memory of one student's server plus kernel. "
        "CPU per student = median user + system CPU seconds of one student's server and kernel over the run "
        "(what the run costs on an idle machine). "
        "Hub / proxy RSS = peak of the JupyterHub process / the node proxy.", "",
        "Failures:" if fails else "Failures: none.", *fails, "",
        "Collection and grading of the submission:" if collects else "", *collects, "",
        *lab_table(info.get("labs")),
        *(["Notes:", *[f"- {n}" for n in info["notes"]], ""] if info.get("notes") else []),
        f"Raw numbers: `{info.get('json', 'benchmarks/hub_results.json')}`.", ""])


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--users", type=int, default=20, help="students in the first class run")
    ap.add_argument("--ramp", default="", help="more class sizes to try after it, e.g. 30,40 (stops at the first failure)")
    ap.add_argument("--min-free-mb", type=int, default=6000,
                    help="do not start a larger class unless this much memory would remain (per-user peak x users)")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "hub_report.md")
    ap.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "hub_results.json")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one, removed)")
    ap.add_argument("--render-only", action="store_true", help="only rewrite --out from the numbers in --json")
    ap.add_argument("--labs", action="store_true",
                    help="only measure every lab's kernel memory and CPU (one student) and add it to --json/--out")
    args = ap.parse_args(argv)
    if args.labs:
        data = json.loads(args.json.read_text(encoding="utf-8")) if args.json.exists() else {"machine": machine(),
                                                                                               "runs": []}
        with tempfile.TemporaryDirectory(prefix="dlfa-labs-") as tmp:
            data["machine"]["labs"] = lab_memory(Path(tmp))
        data["machine"].setdefault("notes", []).append(
            f"`--labs` measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, load {load()}")
        args.json.write_text(json.dumps(data, indent=1, ensure_ascii=False))
        args.out.write_text(report(data["runs"], data["machine"]), encoding="utf-8")
        return 0 if all(r["ok"] for r in data["machine"]["labs"]) else 1
    if args.render_only:
        data = json.loads(args.json.read_text(encoding="utf-8"))
        args.out.write_text(report(data["runs"], data["machine"]), encoding="utf-8")
        return 0
    sizes = [args.users] + [int(x) for x in args.ramp.split(",") if x.strip()]
    if any(n < 1 for n in sizes):
        ap.error("class sizes must be positive")
    import jupyterhub
    info = {**machine(), "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
            "jupyterhub": jupyterhub.__version__,
            "chp": subprocess.run([str(PROXY), "--version"], capture_output=True, text=True).stdout.strip(),
            "json": os.path.relpath(args.json, ROOT)}
    runs = []
    work = args.work or Path(tempfile.mkdtemp(prefix="dlfa-hub-bench-"))
    try:
        dist = work / "dist"
        for n in sizes:
            if runs:
                last = runs[-1]
                if last["failed"]:
                    info.setdefault("notes", []).append(
                        f"ramp stopped: {last['failed']} failure(s) at {last['users']} students")
                    print(info["notes"][-1])
                    break
                need = (last["user_rss_max_mb"] or 0) * n
                avail = machine()["mem_available_mb"]
                if avail - need < args.min_free_mb:
                    info.setdefault("notes", []).append(
                        f"ramp stopped before {n} students: they would need ~{need} MB (peak per student x {n}), "
                        f"{avail} MB was available and --min-free-mb {args.min_free_mb} MB must stay free for the "
                        f"other work on this shared machine")
                    print(info["notes"][-1])
                    args.json.write_text(json.dumps({"machine": info, "runs": runs}, indent=1, ensure_ascii=False))
                    args.out.write_text(report(runs, info), encoding="utf-8")
                    break
            s = run_class(n, work / f"class{n}", dist=dist)
            runs.append(s)
            print(json.dumps({k: v for k, v in s.items() if k not in ("students", "collect")}), flush=True)
            args.json.write_text(json.dumps({"machine": info, "runs": runs}, indent=1, ensure_ascii=False))
            args.out.write_text(report(runs, info), encoding="utf-8")
    finally:
        if args.work is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0 if runs and not any(r["failed"] for r in runs[:1]) else 1


if __name__ == "__main__":
    sys.exit(main())
