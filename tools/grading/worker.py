"""The sandboxed side of grading: runs one submitted notebook's cells and answers the grader's calls.

Started by :mod:`sandbox` inside bubblewrap as ``python -I /grader/worker.py RFD WFD``. Everything
this process does is untrusted by construction - the submission's code runs here and may patch
anything in this process, including this file's functions. That is fine: the grader only ever
receives *data* from here (see :mod:`rpc`), computes every expected value and every verdict
itself, and kills this process's whole PID namespace when it is done.
"""
from __future__ import annotations

import os
import signal
import sys
import types

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import rpc  # noqa: E402



class CellTimeout(BaseException):
    pass


class _NoOpGrader:
    """Stands in for otter's / helpers.labcheck's grader: check cells do nothing while grading."""

    def __getattr__(self, name):
        return lambda *a, **k: None


def _stub_graders():
    otter = types.ModuleType("otter")
    otter.Notebook = lambda *a, **k: _NoOpGrader()
    def attr(name):
        if name.startswith("__"):
            raise AttributeError(name)
        return lambda *a, **k: _NoOpGrader()

    otter.__getattr__ = attr
    sys.modules["otter"] = otter
    try:
        import helpers.labcheck as lc
        lc.lab_grader = lambda *a, **k: _NoOpGrader()
        lc.LabGrader = lambda *a, **k: _NoOpGrader()
    except Exception:  # noqa: BLE001 - an environment without labcheck
        pass


def main(rfd: int, wfd: int) -> None:
    ch = rpc.Channel(rfd, wfd)
    ep = rpc.Endpoint(ch, trusted=False)
    import torch
    from IPython.core.interactiveshell import InteractiveShell

    shell = InteractiveShell.instance()
    ns = shell.user_ns
    ns["get_ipython"] = lambda: shell
    ns["__name__"] = "__main__"
    _stub_graders()

    def with_ctx(msg, fn):
        ctx = msg.get("ctx") or {}
        dev = str(ctx.get("dev", "cpu"))
        with torch.set_grad_enabled(bool(ctx.get("grad", True))):
            if dev != "cpu" and dev in ("meta",):
                with torch.device(dev):
                    return fn()
            return fn()

    def run_cell(msg):
        src = str(msg["source"])
        limit = int(msg.get("timeout", 120))

        def alarm(signum, frame):
            raise CellTimeout()

        signal.signal(signal.SIGALRM, alarm)
        signal.alarm(max(1, limit))
        try:
            code = shell.transform_cell(src)
            compiled = compile(code, f"<cell {int(msg.get('index', 0))}>", "exec")
            exec(compiled, ns)  # noqa: S102 - this IS the submission's code, inside the sandbox
            return {"ok": True}
        except CellTimeout:
            return {"ok": False, "error": {"type": "TimeoutError", "msg": f"cell ran longer than {limit} s",
                                           "line": None}}
        except BaseException as e:  # noqa: BLE001
            return {"ok": False, "error": rpc.error_info(e)}
        finally:
            signal.alarm(0)

    def get(msg):
        name = str(msg["name"])
        if name not in ns:
            return {"missing": True}
        return {"value": ep.encode(ns[name], grad_inputs=[])}

    def target(msg):
        oid = int(msg["target"])
        if oid not in ep.objects:
            raise rpc.ProtocolError("unknown object")
        return ep.objects[oid]

    def getattr_(msg):
        return ep.encode(getattr(target(msg), str(msg["name"])), grad_inputs=[])

    def setattr_(msg):
        setattr(target(msg), str(msg["name"]), ep.decode(msg["value"]))
        return None

    def call(msg):
        fn = target(msg)
        ep._leaves = []
        args = [ep.decode(a) for a in msg.get("args", [])]
        kwargs = {str(k): ep.decode(v) for k, v in (msg.get("kwargs") or {}).items()}
        leaves, ep._leaves = ep._leaves, None
        allargs = args + list(kwargs.values())
        before = [_snapshot(a) for a in allargs]

        def run():
            return fn(*args, **kwargs)

        result = with_ctx(msg, run)
        writeback = {}
        for i, (a, snap) in enumerate(zip(allargs, before)):
            state = _changed_state(ep, a, snap)
            if state is not None:
                writeback[str(i)] = state
        return {"result": ep.encode(result, grad_inputs=leaves, args=allargs), "writeback": writeback}

    def iter_(msg):
        return ep.encode(iter(target(msg)))

    def next_(msg):
        try:
            return {"value": ep.encode(next(target(msg)), grad_inputs=[])}
        except StopIteration:
            return {"stop": True}

    def len_(msg):
        return len(target(msg))

    def getitem(msg):
        return ep.encode(target(msg)[ep.decode(msg["key"])], grad_inputs=[])

    ep.handlers.update({
        "run_cell": run_cell, "get": get, "getattr": getattr_, "setattr": setattr_, "call": call,
        "warm": lambda m: [__import__(str(x)) and None for x in m.get("modules", [])
                           if str(x) in ("torch._dynamo", "torch.fx", "torch.func")],
        "iter": iter_, "next": next_, "len": len_, "getitem": getitem, "ping": lambda m: "pong",
        "backward": lambda m: rpc.serve_backward(ep, m),
    })
    ch.send({"ready": True})
    while True:
        msg = ch.recv()
        if msg.get("op") == "exit":
            os._exit(0)
        ep.serve_one(msg)


def _snapshot(a):
    import torch

    if isinstance(a, torch.Tensor) and a.device.type != "meta":
        return a.detach().clone()
    if isinstance(a, torch.nn.Module):
        return True
    return None


def _changed_state(ep, a, snap):
    """What the grader must write back into its own copy of argument ``a`` after the call."""
    import torch

    if snap is None:
        return None
    if isinstance(a, torch.Tensor):
        if a.shape == snap.shape and a.dtype == snap.dtype and torch.equal(a.detach(), snap):
            return None
        return ep._encode_tensor(a, None)
    tensors = []
    for mname, mod in a.named_modules():
        for pname, t in list(mod._parameters.items()) + list(mod._buffers.items()):
            if t is not None:
                tensors.append([f"{mname}.{pname}" if mname else f".{pname}", ep._encode_tensor(t, None)])
    return {"training": [[n, m.training] for n, m in a.named_modules()], "tensors": tensors}


if __name__ == "__main__":
    rfd, wfd = int(sys.argv[1]), int(sys.argv[2])
    # The channel's descriptors stay private; the submission's prints go to stderr (the grader's log).
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.dup2(2, 1)
    main(rfd, wfd)
