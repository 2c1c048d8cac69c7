"""A class hub on one machine, for trying the course's hub set-up and for its test and benchmark.

JupyterHub from PyPI (requirements.txt), configurable-http-proxy from npm (package.json), the
built-in DummyAuthenticator (any password: for a test, never for a class) and
SimpleLocalProcessSpawner (every student's server runs as the hub's own Unix user, with its home
folder under the run folder: no system users are created). Everything listens on 127.0.0.1 only.

Run from the repository root (``make hub-demo`` is not provided on purpose: this hub has no real
login). ``benchmarks/hub.py`` and ``tests/test_hub.py`` start it like this::

    DLFA_HUB_DIR=/tmp/hub DLFA_HUB_USERS=ali,sara .venv/bin/jupyterhub -f deploy/local/jupyterhub_config.py

Settings come from environment variables so that one file serves the test, the benchmark and a
manual try-out:

=====================  ==============================================  =====================
variable               meaning                                         default
=====================  ==============================================  =====================
DLFA_HUB_DIR           run folder: database, cookie secret, homes       (required)
DLFA_HUB_USERS         the class roster, comma-separated user names     (empty: anyone logs in)
DLFA_HUB_ADMINS        instructor user names (admin), comma-separated   (none)
DLFA_HUB_PORT          the public (proxy) port on 127.0.0.1             8000
DLFA_HUB_API_PORT      the hub's internal port on 127.0.0.1             8081
DLFA_PROXY_API_PORT    the proxy's REST API port on 127.0.0.1           8001
DLFA_HUB_RUN           a marker put in every student process's         (empty)
                       environment, so a harness can find and stop them
DLFA_HUB_TIMEOUT       seconds a server may take to start               300
=====================  ==============================================  =====================
"""
import os
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
VENV_BIN = Path(sys.executable).parent  # the environment jupyterhub runs in serves the students too
RUN_DIR = Path(os.environ["DLFA_HUB_DIR"]).resolve()
RUN_DIR.mkdir(parents=True, exist_ok=True)


def _names(var):
    return {n.strip() for n in os.environ.get(var, "").split(",") if n.strip()}


c = get_config()  # noqa: F821 (provided by JupyterHub when it loads this file)

# --- network: loopback only
c.JupyterHub.ip = "127.0.0.1"
c.JupyterHub.port = int(os.environ.get("DLFA_HUB_PORT", "8000"))
c.JupyterHub.hub_ip = "127.0.0.1"
c.JupyterHub.hub_port = int(os.environ.get("DLFA_HUB_API_PORT", "8081"))
c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{int(os.environ.get('DLFA_PROXY_API_PORT', '8001'))}"
c.ConfigurableHTTPProxy.command = [str(ROOT / "node_modules" / ".bin" / "configurable-http-proxy")]
c.ConfigurableHTTPProxy.pid_file = str(RUN_DIR / "proxy.pid")
c.ConfigurableHTTPProxy.debug = False

# --- state in the run folder
c.JupyterHub.db_url = f"sqlite:///{RUN_DIR / 'jupyterhub.sqlite'}"
c.JupyterHub.cookie_secret_file = str(RUN_DIR / "jupyterhub_cookie_secret")
c.JupyterHub.pid_file = str(RUN_DIR / "jupyterhub.pid")
c.JupyterHub.cleanup_servers = True  # stopping the hub stops every student's server
c.JupyterHub.cleanup_proxy = True

# --- who: a roster of students, no system users
c.JupyterHub.authenticator_class = "dummy"
roster, admins = _names("DLFA_HUB_USERS"), _names("DLFA_HUB_ADMINS")
if roster or admins:
    c.Authenticator.allowed_users = roster | admins
else:
    c.Authenticator.allow_all = True
c.Authenticator.admin_users = admins

# --- each student's server: JupyterLab from this environment, home under the run folder
c.JupyterHub.spawner_class = "simple"
c.SimpleLocalProcessSpawner.home_dir_template = str(RUN_DIR / "home" / "{username}")
c.Spawner.cmd = [str(VENV_BIN / "jupyterhub-singleuser")]
c.Spawner.default_url = "/lab"
if os.geteuid() == 0:  # containers and CI run as root; Jupyter refuses root unless told
    c.Spawner.args = ["--ServerApp.allow_root=True"]
c.Spawner.env_keep = ["PATH", "PYTHONPATH", "LANG", "LC_ALL", "DLFA_OFFLINE", "DLFA_QUIET",
                      "JUPYTERHUB_SINGLEUSER_APP"]
c.Spawner.environment = {
    # one CPU thread per kernel: what a per-user CPU limit of 1 means on Kubernetes
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    # nbgitpuller merges into the course folder, never into the whole home
    "NBGITPULLER_APP": "lab",
    "DLFA_HUB_RUN": os.environ.get("DLFA_HUB_RUN", ""),
}
timeout = int(os.environ.get("DLFA_HUB_TIMEOUT", "300"))
c.Spawner.start_timeout = timeout
c.Spawner.http_timeout = timeout
c.JupyterHub.concurrent_spawn_limit = 0  # no limit: the benchmark measures what the machine holds
