"""A real class hub on this machine, small: 3 students (the full run is benchmarks/hub.py).

JupyterHub from PyPI with configurable-http-proxy from npm, DummyAuthenticator and
SimpleLocalProcessSpawner (no system users), loopback only, started here under `timeout` so that
it stops by itself. Each student logs in through the REST API, starts a server, follows the lab
page's nbgitpuller link (to a local git clone of the course), answers lab 1 and executes all of it
in their own kernel, all at once; one submits; the instructor's tools/collect.py collects and
grades the submission and writes the Moodle CSV. Under `make test` this runs with the network off
(unshare --net, loopback only) and the offline guard in every Python process, the hub's included.
"""
import csv
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.hub import Hub, PROXY, run_class, run_processes  # noqa: E402

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not PROXY.exists(), reason="configurable-http-proxy not installed: run `npm ci`"),
]


@pytest.fixture(scope="module")
def hub_left_alone(tmp_path_factory):
    """A second hub that nobody stops, started before the class so that its wait for its own time
    limit overlaps the class run instead of adding 90 s of idle time to the suite."""
    run_dir = tmp_path_factory.mktemp("hub-left-alone") / "hub"
    hub = Hub(run_dir, ["ali"], max_seconds=90)  # long enough to start on a loaded machine
    t0 = time.monotonic()
    hub.start()
    proxy_pid = int((run_dir / "proxy.pid").read_text().strip())
    yield hub, t0, proxy_pid
    hub.stop()


def test_class_of_three_students(tmp_path, hub_left_alone):
    s = run_class(3, tmp_path, max_seconds=1500, exec_timeout=900)
    assert s["failures"] == [], s["failures"]
    assert s["ok"] == 3
    for st in s["students"]:
        assert st["ready_s"] > 0 and st["pull_s"] > 0 and st["cells"] >= 10, st
    assert [st["name"] for st in s["students"] if st["submitted"]] == ["student001"]
    # memory was sampled for every student, the hub and the proxy
    assert s["user_rss_median_mb"] and s["hub_rss_mb"] > 0 and s["proxy_rss_mb"] > 0
    assert s["leftover_processes"] == 0, f"processes left after the hub stopped: {s['leftovers']}"

    c = s["collect"]
    assert c is not None and c["returncode"] == 0, c
    out = Path(c["out"])
    with open(out / "grades" / "scores.csv", newline="", encoding="utf-8") as f:
        scores = list(csv.DictReader(f))
    assert [(r["student"], r["status"], float(r["percent"])) for r in scores] == [("student001", "ok", 100.0)]
    with open(out / "moodle.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["Username", "lab1_batchnorm", "lab1_batchnorm (feedback)"]
    assert rows[1][:2] == ["student001", "100"] and len(rows) == 2
    with open(out / "manifest.csv", newline="", encoding="utf-8") as f:
        manifest = list(csv.DictReader(f))
    assert manifest[0]["source"].endswith("home/student001/submit/lab1_batchnorm.ipynb")
    assert manifest[0]["late_days"] == "0"


def test_hub_stops_by_itself(hub_left_alone):
    """Without anyone stopping it, the hub (and its proxy) exits after its time limit."""
    hub, t0, proxy_pid = hub_left_alone
    code = hub.proc.wait(max(1.0, 200 - (time.monotonic() - t0)))
    assert code == 124, f"`timeout` should have stopped the hub (exit 124), got {code}:\n{hub.log_tail()}"
    assert time.monotonic() - t0 < 200
    assert not Path(f"/proc/{proxy_pid}").exists() or b"configurable-http-proxy" not in \
        Path(f"/proc/{proxy_pid}/cmdline").read_bytes(), "the proxy outlived the hub"
    assert run_processes(hub.marker) == []
