"""One submission's sandbox: bubblewrap namespaces, a read-only view of the course environment, limits.

What the process inside sees (everything read-only except a fresh ``/tmp``):

* ``/usr`` and the system library folders, the Python installation (``sys.base_prefix``) and the
  course's virtual environment (``sys.prefix``), the ``helpers`` package and the Vazirmatn font
  (``node_modules/vazirmatn``, when installed);
* ``/grader``: this folder (the worker and the value codec; public code, no tests);
* ``/submission/<name>.ipynb``: its own notebook copy;
* a private ``/tmp`` (tmpfs of ``tmp_mb`` MiB), a private ``/proc`` of its own PID namespace, a
  minimal ``/dev``.

Not the repository (no ``labs/source``, no ``dist/``, no autograder bundle), not the grades folder,
not other submissions, not ``/root`` or any home, no ``/etc`` beyond the loader cache. No network
(a new, empty network namespace), a new PID namespace (every process it starts dies with it), a new
session (no terminal), IPC and UTS namespaces. As root it runs as an unprivileged uid (``setpriv``,
one uid per parallel job, no capabilities, ``no_new_privs``); as an ordinary user, in a user
namespace as that user. Limits (``resource.setrlimit``, inherited by every process inside):
address space per process, processes, CPU seconds per process, file size, open files; no core files.
"""
from __future__ import annotations

import os
import resource
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent


@dataclass
class Limits:
    """Per-submission limits; every one is a ``grade`` option (see labs/instructors.md)."""
    memory_mb: int = 3072      # address space per process (RLIMIT_AS)
    procs: int = 64            # processes/threads of the sandbox's uid (RLIMIT_NPROC)
    cpu_s: int = 900           # CPU seconds per process (RLIMIT_CPU)
    file_mb: int = 64          # largest file it can write (RLIMIT_FSIZE)
    tmp_mb: int = 256          # size of its private /tmp
    open_files: int = 256      # RLIMIT_NOFILE


def bwrap_path() -> str | None:
    return shutil.which("bwrap")


def _helpers_dir() -> Path | None:
    try:
        import helpers
        return Path(helpers.__file__).resolve().parent
    except Exception:  # noqa: BLE001
        return None


def _count_procs(uid: int) -> int:
    n = 0
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                if p.stat().st_uid == uid:
                    n += 1
            except OSError:
                pass
    return n


def command(notebook: Path, rfd: int, wfd: int, limits: Limits, slot: int = 0) -> list[str]:
    """The bwrap command line that starts the worker for ``notebook`` on descriptors rfd/wfd."""
    bwrap = bwrap_path()
    if bwrap is None:
        raise RuntimeError("bubblewrap (bwrap) is not installed: apt-get install bubblewrap")
    args = [bwrap, "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts", "--unshare-cgroup-try",
            "--die-with-parent", "--new-session", "--hostname", "sandbox", "--clearenv"]
    if os.geteuid() != 0:
        args += ["--unshare-user"]
    args += ["--ro-bind", "/usr", "/usr"]
    for d in ("/bin", "/sbin", "/lib", "/lib32", "/lib64"):
        if os.path.islink(d):
            args += ["--symlink", os.readlink(d), d]
        elif os.path.isdir(d):
            args += ["--ro-bind", d, d]
    if os.path.exists("/etc/ld.so.cache"):
        args += ["--ro-bind", "/etc/ld.so.cache", "/etc/ld.so.cache"]
    # The private /tmp first: a course checked out under /tmp (a CI clone) is bound on top of it below,
    # instead of being hidden by it.
    args += ["--size", str(limits.tmp_mb * 2 ** 20), "--perms", "01777", "--tmpfs", "/tmp"]
    seen: list[Path] = []
    mounts = [Path(sys.base_prefix).resolve(), Path(sys.prefix).resolve()]
    h = _helpers_dir()
    if h is not None:
        mounts.append(h)
    font = ROOT / "node_modules" / "vazirmatn"
    if font.is_dir():
        mounts.append(font.resolve())
    for m in mounts:
        if any(m == s or m.is_relative_to(s) for s in seen) or str(m).startswith("/usr/"):
            continue
        seen.append(m)
        for parent in reversed(m.parents):
            if str(parent) != "/":
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(m), str(m)]
    args += ["--perms", "0755", "--dir", "/grader", "--ro-bind", str(HERE), "/grader",
             "--perms", "0755", "--dir", "/submission",
             "--ro-bind", str(notebook), f"/submission/{notebook.name}",
             "--proc", "/proc", "--dev", "/dev",
             "--chdir", "/tmp"]
    env = {"HOME": "/tmp", "TMPDIR": "/tmp", "MPLBACKEND": "Agg", "MPLCONFIGDIR": "/tmp/.mpl",
           "CUDA_VISIBLE_DEVICES": "", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
           "PYTHONDONTWRITEBYTECODE": "1", "DLFA_QUIET": "1", "PATH": f"{Path(sys.prefix) / 'bin'}:/usr/bin:/bin",
           "LANG": "C.UTF-8", "PYTHONIOENCODING": "utf-8", "SUBMISSION": f"/submission/{notebook.name}"}
    for k, v in env.items():
        args += ["--setenv", k, v]
    python = str(Path(sys.prefix) / "bin" / "python")
    if os.geteuid() == 0:
        uid = sandbox_uid(slot)
        args += ["setpriv", f"--reuid={uid}", f"--regid={uid}", "--clear-groups", "--no-new-privs",
                 "--inh-caps=-all", "--bounding-set=-all"]
    else:
        args += ["--cap-drop", "ALL"]
    return args + [python, "-I", "/grader/worker.py", str(rfd), str(wfd)]


def self_test(limits: Limits | None = None) -> str | None:
    """None when a sandbox can be started here, else why not (no bwrap, no namespaces allowed)."""
    if bwrap_path() is None:
        return "bubblewrap (bwrap) is not installed: apt-get install bubblewrap"
    limits = limits or Limits()
    probe = Path(os.devnull)
    cmd = command(probe, 0, 1, limits)
    cmd = cmd[:cmd.index("-I") + 1] + ["-c", "import os; assert os.getuid() != 0 or os.geteuid() != 0"]
    nproc = limits.procs if os.geteuid() == 0 else _count_procs(os.getuid()) + limits.procs
    try:
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, preexec_fn=_preexec(limits, nproc))
    except (OSError, subprocess.TimeoutExpired) as e:
        return f"bwrap could not start: {e}"
    if res.returncode != 0:
        return "bwrap could not create the sandbox here: " + (res.stderr.strip().splitlines() or ["?"])[-1]
    return None


def sandbox_uid(slot: int) -> int:
    """The unprivileged uid of parallel job ``slot`` when grading as root (not in /etc/passwd)."""
    return 61000 + slot


def _preexec(limits: Limits, nproc: int):
    def apply():
        os.setsid()
        mb = 2 ** 20
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_mb * mb, limits.memory_mb * mb))
        resource.setrlimit(resource.RLIMIT_NPROC, (nproc, nproc))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_s, limits.cpu_s))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_mb * mb, limits.file_mb * mb))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    return apply


class Sandbox:
    """A running worker: ``channel`` talks to it, ``close()`` ends its whole PID namespace."""

    def __init__(self, notebook: Path, limits: Limits, log_path: Path, slot: int = 0):
        from rpc import Channel  # noqa: PLC0415 - tools/grading is on sys.path in the grader

        to_r, to_w = os.pipe()
        from_r, from_w = os.pipe()
        cmd = command(notebook, to_r, from_w, limits, slot)
        nproc = limits.procs if os.geteuid() == 0 else _count_procs(os.getuid()) + limits.procs
        self.log = open(log_path, "ab")
        self.proc = subprocess.Popen(cmd, pass_fds=(to_r, from_w), stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=self.log, preexec_fn=_preexec(limits, nproc), close_fds=True)
        os.close(to_r)
        os.close(from_w)
        self.channel = Channel(from_r, to_w)
        self._fds = (from_r, to_w)

    def wait_ready(self, seconds: float) -> None:
        self.channel.deadline = time.monotonic() + seconds
        msg = self.channel.recv()
        if not msg.get("ready"):
            from rpc import ProtocolError
            raise ProtocolError("the worker did not start")

    def close(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for fd in self._fds:
            try:
                os.close(fd)
            except OSError:
                pass
        self.log.close()
