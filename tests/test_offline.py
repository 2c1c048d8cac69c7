"""The offline guard (tests/offline_guard.py): other hosts refused, loopback allowed, child processes covered.

Run the whole suite offline with ``DLFA_OFFLINE=1 python -m pytest -p tests.offline_guard``, and
where network namespaces are available, inside one with only loopback:
``unshare --net sh -c 'ip link set lo up && DLFA_OFFLINE=1 .venv/bin/python -m pytest -p tests.offline_guard'``.
"""
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

# the plugin may have been loaded as `tests.offline_guard` (-p) or `offline_guard`: use that very module
guard = sys.modules.get("tests.offline_guard") or sys.modules.get("offline_guard")
if guard is None:
    from tests import offline_guard as guard  # noqa: E402

OTHER_HOST = ("192.0.2.1", 80)  # TEST-NET-1 (RFC 5737): never a real host


@pytest.fixture
def guarded():
    """The guard on for this test (and left as it was found afterwards)."""
    was = guard.installed()
    guard.install()
    yield
    if not was:
        guard.uninstall()


def _echo_server():
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)

    def serve():
        conn, _ = srv.accept()
        with conn:
            conn.sendall(conn.recv(16))
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()


def test_guard_refuses_another_host_at_once(guarded):
    t0 = time.perf_counter()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        with pytest.raises(guard.NetworkBlocked):
            s.connect(OTHER_HOST)
        with pytest.raises(OSError):
            s.connect_ex(OTHER_HOST)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        with pytest.raises(guard.NetworkBlocked):
            s.sendto(b"x", ("8.8.8.8", 53))
    with pytest.raises(OSError):  # no DNS lookup leaves the machine either
        socket.create_connection(("example.org", 443), timeout=5)
    with pytest.raises(urllib.error.URLError):
        urllib.request.urlopen("https://pypi.org/simple/", timeout=5)
    assert time.perf_counter() - t0 < 2, "refused connections must fail at once, not time out"


def test_guard_allows_loopback(guarded):
    for host in ("127.0.0.1", "localhost"):
        addr = _echo_server()
        with socket.create_connection((host, addr[1]), timeout=5) as s:
            s.sendall(b"ping")
            assert s.recv(16) == b"ping"


def test_guard_can_be_removed():
    was = guard.installed()
    guard.install()
    guard.uninstall()
    assert socket.socket.connect is not None and not guard.installed()
    if was:
        guard.install()


def test_child_processes_get_the_guard(tmp_path):
    """nbval's kernels and the book build are child processes: the sitecustomize hook guards them too."""
    guard.write_sitecustomize(tmp_path)
    code = (
        "import socket\n"
        "srv = socket.socket(); srv.bind(('127.0.0.1', 0)); srv.listen(1)\n"
        "socket.create_connection(srv.getsockname(), timeout=5).close()\n"
        "try:\n"
        f"    socket.socket().connect({OTHER_HOST!r})\n"
        "except ConnectionRefusedError as e:\n"
        "    print('refused:', e)\n"
        "else:\n"
        "    print('CONNECTED')\n")
    env = {**os.environ, guard.ENV_VAR: "1",
           "PYTHONPATH": os.pathsep.join(filter(None, [str(tmp_path), os.environ.get("PYTHONPATH")]))}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("refused: offline guard"), out.stdout + out.stderr


def test_this_run_is_offline_when_asked():
    if not guard.enabled():
        pytest.skip(f"{guard.ENV_VAR} is not set: this run is not offline "
                    f"(run with {guard.ENV_VAR}=1 python -m pytest -p tests.offline_guard)")
    with pytest.raises(OSError) as refused:
        socket.socket().connect(OTHER_HOST)
    assert "offline guard" in str(refused.value), (
        f"{guard.ENV_VAR}=1 but the guard is not installed in this process: run pytest with -p tests.offline_guard")
    hook_dirs = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep)
                 if p and (Path(p) / "sitecustomize.py").is_file()]
    assert hook_dirs, "child processes would not get the guard (no sitecustomize hook on PYTHONPATH)"
