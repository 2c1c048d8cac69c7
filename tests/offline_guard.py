"""Offline guard: refuse every network connection except to this machine (loopback).

A pytest plugin, loaded with ``-p tests.offline_guard``. It does nothing unless the
environment variable ``DLFA_OFFLINE=1`` is set; then, before any test runs, it

1. patches this process's sockets: ``socket.socket.connect``/``connect_ex``/``sendto``/
   ``sendmsg`` to an address that is not loopback raise :class:`NetworkBlocked` (an ``OSError``,
   what a library sees when the network is down), and ``socket.getaddrinfo`` of a host name
   that is not local raises ``socket.gaierror`` (no DNS query leaves the machine); Unix sockets
   and loopback (127.0.0.0/8, ::1, ``localhost``) stay allowed, so Jupyter kernels, local HTTP
   servers and the browser tests keep working;
2. writes a ``sitecustomize.py`` into a temporary folder and puts that folder first on
   ``PYTHONPATH``, so every Python child process (nbval's notebook kernels, the book build and the
   kernels it starts, the grader's subprocesses) installs the same guard when it starts.

Non-Python programs (chromium, npm) are not covered by the socket patch: for a watertight run
use the kernel's network namespaces as well, where available (root, or user namespaces)::

    unshare --net sh -c 'ip link set lo up && DLFA_OFFLINE=1 .venv/bin/python -m pytest -p tests.offline_guard'

The guard can also be used directly: ``install()`` / ``uninstall()`` / ``installed()``.
"""
from __future__ import annotations

import ipaddress
import os
import socket
import sys
import tempfile
from pathlib import Path

ENV_VAR = "DLFA_OFFLINE"
LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", ""}
WILDCARD = {"0.0.0.0", "::"}  # bind-all addresses: local by definition (a connect to them reaches this host)


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of connecting to another host while the offline guard is on."""


_saved: dict = {}


def _host_is_local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0].lower()
    if host in LOCAL_NAMES or host in WILDCARD:
        return True
    try:
        addr = ipaddress.ip_address(host)
    except ValueError:
        return False  # a name other than localhost: resolving it would already be network traffic
    if isinstance(addr, ipaddress.IPv6Address) and addr.ipv4_mapped is not None:
        addr = addr.ipv4_mapped
    return addr.is_loopback


def _address_is_local(sock, address) -> bool:
    family = getattr(sock, "family", None)
    if family not in (socket.AF_INET, socket.AF_INET6):
        return True  # AF_UNIX, AF_NETLINK, ...: never leave the machine
    host = address[0] if isinstance(address, tuple) and address else address
    return _host_is_local(host)


def _refuse(what, address):
    raise NetworkBlocked(f"offline guard ({ENV_VAR}=1): {what} to {address!r} refused; only loopback is allowed")


def install() -> None:
    """Patch the socket module of this process (idempotent)."""
    if _saved:
        return
    cls = socket.socket
    _saved.update(connect=cls.connect, connect_ex=cls.connect_ex, sendto=cls.sendto,
                  sendmsg=getattr(cls, "sendmsg", None), getaddrinfo=socket.getaddrinfo)

    def connect(self, address):
        if not _address_is_local(self, address):
            _refuse("connect", address)
        return _saved["connect"](self, address)

    def connect_ex(self, address):
        if not _address_is_local(self, address):
            _refuse("connect_ex", address)
        return _saved["connect_ex"](self, address)

    def sendto(self, data, *args):
        address = args[-1]
        if not _address_is_local(self, address):
            _refuse("sendto", address)
        return _saved["sendto"](self, data, *args)

    def sendmsg(self, buffers, ancdata=(), flags=0, address=None):
        if address is not None and not _address_is_local(self, address):
            _refuse("sendmsg", address)
        if address is None:
            return _saved["sendmsg"](self, buffers, ancdata, flags)
        return _saved["sendmsg"](self, buffers, ancdata, flags, address)

    def getaddrinfo(host, *args, **kwargs):
        if not _host_is_local(host) and host != socket.gethostname():
            raise socket.gaierror(socket.EAI_NONAME, f"offline guard ({ENV_VAR}=1): no lookup of {host!r}")
        return _saved["getaddrinfo"](host, *args, **kwargs)

    cls.connect, cls.connect_ex, cls.sendto = connect, connect_ex, sendto
    if _saved["sendmsg"] is not None:
        cls.sendmsg = sendmsg
    socket.getaddrinfo = getaddrinfo


def uninstall() -> None:
    """Undo :func:`install`."""
    if not _saved:
        return
    cls = socket.socket
    cls.connect, cls.connect_ex, cls.sendto = _saved["connect"], _saved["connect_ex"], _saved["sendto"]
    if _saved["sendmsg"] is not None:
        cls.sendmsg = _saved["sendmsg"]
    socket.getaddrinfo = _saved["getaddrinfo"]
    _saved.clear()


def installed() -> bool:
    return bool(_saved)


def enabled() -> bool:
    """True when the environment asks for the guard (``DLFA_OFFLINE=1``)."""
    return os.environ.get(ENV_VAR, "") not in ("", "0")


SITECUSTOMIZE = '''\
# Written by tests/offline_guard.py: installs the offline guard in every Python child process.
import importlib.util as _u, os as _os, sys as _sys
if _os.environ.get("{env}", "") not in ("", "0"):
    _spec = _u.spec_from_file_location("dlfa_offline_guard", {guard!r})
    _mod = _u.module_from_spec(_spec)
    _spec.loader.exec_module(_mod)
    _mod.install()
    _sys.modules.setdefault("dlfa_offline_guard", _mod)
# then run the sitecustomize this one shadows, if there is one
from importlib.machinery import PathFinder as _PF
_here = _os.path.dirname(_os.path.abspath(__file__))
_next = _PF.find_spec("sitecustomize", [p for p in _sys.path if _os.path.abspath(p or ".") != _here])
if _next is not None and _next.loader is not None:
    _m = _u.module_from_spec(_next)
    _next.loader.exec_module(_m)
'''


def write_sitecustomize(folder) -> Path:
    """Write the child-process hook into ``folder``; put ``folder`` first on PYTHONPATH to use it."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sitecustomize.py"
    path.write_text(SITECUSTOMIZE.format(env=ENV_VAR, guard=str(Path(__file__).resolve())), encoding="utf-8")
    return path


# ----------------------------------------------------------------------------- pytest hooks
_site_dir: tempfile.TemporaryDirectory | None = None


def pytest_configure(config):
    global _site_dir
    if not enabled():
        return
    install()
    _site_dir = tempfile.TemporaryDirectory(prefix="dlfa-offline-")
    write_sitecustomize(_site_dir.name)
    old = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = _site_dir.name + (os.pathsep + old if old else "")


def pytest_report_header(config):
    if enabled():
        return f"offline guard: ON ({ENV_VAR}=1): connections to other hosts are refused, here and in child processes"
    return f"offline guard: off (set {ENV_VAR}=1 to refuse connections to other hosts)"


def pytest_unconfigure(config):
    global _site_dir
    if _site_dir is not None:
        _site_dir.cleanup()
        _site_dir = None
    uninstall()


if __name__ == "__main__" and len(sys.argv) > 1:  # pragma: no cover - a manual check
    install()
    host, port = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 80
    socket.create_connection((host, port), timeout=3)
