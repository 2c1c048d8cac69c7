"""The one channel between the trusted grader and a sandboxed submission: values, references, calls.

Both sides import this file (the sandbox gets a read-only copy of ``tools/grading``). Messages
are length-prefixed JSON; tensors travel as their raw bytes (base64) with dtype and shape, and
are rebuilt by ``torch.frombuffer`` - never by ``pickle``. What each side may send:

* the **sandbox** (untrusted) sends data only: ``None``, bools, numbers, strings, tuples, lists,
  dicts, tensors, numpy arrays, dtypes and devices. Anything else it returns (a module, a
  function, a generator, an object of the student's class) stays in the sandbox and reaches the
  grader as a *reference*: a :class:`Remote` proxy whose attributes, calls and iteration are
  requests to the sandbox. A proxy never answers ``==``, ``<``, arithmetic or truth tests for the
  sandbox: the grader compares data with its own, unpatched torch.
* the **grader** (trusted) sends data the same way, and may also send an object by value with
  ``pickle`` (an ``nn.Module`` built by a test, e.g. ``count_macs(resnet34)``) - pickle only ever
  travels *into* the sandbox. A grader function passed as an argument (a ``lambda`` in a test)
  becomes a callback reference the sandbox can only call.

Arguments the sandbox changes in place (``running_mean.add_``, ``irnn_init(cell)``, ``model.eval()``)
are written back into the grader's objects after the call, and a returned argument (``return
cell``) comes back as the grader's own object. Gradients cross the boundary both ways through
:class:`_Bridge`, an autograd function whose backward asks the other side for the gradients of
the call's inputs.
"""
from __future__ import annotations

import base64
import itertools
import json
import os
import select
import struct
import time

MAX_MESSAGE = 256 * 2 ** 20  # bytes; a bigger message from the sandbox is a protocol error
MAX_DEPTH = 40

_DTYPES = ("float64", "float32", "float16", "bfloat16", "int64", "int32", "int16", "int8", "uint8", "bool",
           "complex64", "complex128")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message (or nothing in time)."""


class RemoteError(Exception):
    """An exception raised on the other side, re-raised here by type name and message only."""

    def __init__(self, etype: str, message: str, line: int | None = None):
        super().__init__(f"{etype}: {message}" if message else etype)
        self.etype, self.emsg, self.line = etype, message, line


class Deadline(Exception):
    """The sandbox did not answer before the deadline."""


# --------------------------------------------------------------------------- framing
class Channel:
    """Length-prefixed JSON messages over two file descriptors."""

    def __init__(self, rfd: int, wfd: int, limit: int = MAX_MESSAGE):
        self.rfd, self.wfd, self.limit = rfd, wfd, limit
        self.deadline: float | None = None

    def send(self, msg: dict) -> None:
        data = json.dumps(msg, separators=(",", ":"), allow_nan=False).encode("utf-8")
        buf = struct.pack("<Q", len(data)) + data
        view = memoryview(buf)
        while view:
            n = os.write(self.wfd, view)
            view = view[n:]

    def _read(self, n: int) -> bytes:
        chunks, got = [], 0
        while got < n:
            if self.deadline is not None:
                left = self.deadline - time.monotonic()
                if left <= 0 or not select.select([self.rfd], [], [], left)[0]:
                    raise Deadline()
            chunk = os.read(self.rfd, min(n - got, 1 << 20))
            if not chunk:
                raise ProtocolError("the other side closed the channel")
            chunks.append(chunk)
            got += len(chunk)
        return b"".join(chunks)

    def recv(self) -> dict:
        (n,) = struct.unpack("<Q", self._read(8))
        if n > self.limit:
            raise ProtocolError(f"message of {n} bytes (limit {self.limit})")
        try:
            msg = json.loads(self._read(n).decode("utf-8"))
        except ValueError as e:
            raise ProtocolError(f"not JSON: {e}") from None
        if not isinstance(msg, dict):
            raise ProtocolError("a message must be an object")
        return msg


# --------------------------------------------------------------------------- the endpoint
class Endpoint:
    """One side of the channel: encodes/decodes values, keeps the objects it lent out, serves requests.

    ``trusted=True`` is the grader: it never unpickles, accepts only calls and backward passes on
    the objects it lent (callbacks), and its proxies of sandbox objects are :class:`Remote`.
    """

    def __init__(self, channel: Channel, trusted: bool):
        self.ch, self.trusted = channel, trusted
        self.objects: dict[int, object] = {}   # id -> object lent to the other side
        self.graphs: dict[int, tuple] = {}     # id -> (output tensor, input leaves) for backward
        self._ids = itertools.count(1)
        self._msg = itertools.count(1)
        self._leaves: list | None = None       # tensors that required grad, decoded from the current call
        self.handlers = {}

    # ---- values
    def lend(self, obj) -> int:
        for k, v in self.objects.items():
            if v is obj:
                return k
        k = next(self._ids)
        self.objects[k] = obj
        return k

    def encode(self, obj, depth: int = 0, grad_inputs: list | None = None, args: list | None = None):
        """A JSON-able description of ``obj`` (see the module docstring for what is sent by value)."""
        import torch

        if depth > MAX_DEPTH:
            raise ValueError("value nested too deeply")
        if args is not None:
            for i, a in enumerate(args):
                if obj is a and not isinstance(obj, (bool, int, float, str, type(None))):
                    return {"$": "arg", "i": i}
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, int):
            return obj if abs(obj) < 2 ** 53 else {"$": "int", "v": str(obj)}
        if isinstance(obj, float):
            return obj if obj == obj and abs(obj) != float("inf") else {"$": "float", "v": repr(obj)}
        rec = lambda v: self.encode(v, depth + 1, grad_inputs, args)  # noqa: E731
        if isinstance(obj, torch.Tensor):
            return self._encode_tensor(obj, grad_inputs)
        if isinstance(obj, torch.Size):
            return {"$": "size", "v": [int(s) for s in obj]}
        if isinstance(obj, torch.dtype):
            return {"$": "dtype", "v": str(obj).removeprefix("torch.")}
        if isinstance(obj, torch.device):
            return {"$": "device", "v": str(obj)}
        if isinstance(obj, Remote) and self.trusted and obj._ep is self:
            return {"$": "ref", "side": "s", "id": obj._id}
        if isinstance(obj, Callback) and not self.trusted and obj._ep is self:
            return {"$": "ref", "side": "t", "id": obj._id}
        if isinstance(obj, (list, tuple)) and type(obj) in (list, tuple) or _is_namedtuple(obj):
            return {"$": "list" if isinstance(obj, list) else "tuple", "v": [rec(v) for v in obj]}
        if isinstance(obj, dict) and all(isinstance(k, (str, int)) for k in obj):
            return {"$": "dict", "k": [rec(k) for k in obj], "v": [rec(v) for v in obj.values()]}
        if isinstance(obj, slice):
            return {"$": "slice", "v": [rec(obj.start), rec(obj.stop), rec(obj.step)]}
        if type(obj).__module__ == "numpy" and type(obj).__name__ == "ndarray":
            return {"$": "ndarray", "t": self._encode_tensor(torch.from_numpy(obj.copy()), None)}
        if type(obj).__module__ == "numpy" and hasattr(obj, "item"):
            return rec(obj.item())
        if self.trusted:
            if callable(obj) and not isinstance(obj, torch.nn.Module):
                return {"$": "ref", "side": "t", "id": self.lend(obj), "cls": []}
            import pickle
            return {"$": "pickle", "b": base64.b64encode(pickle.dumps(obj)).decode("ascii")}
        return {"$": "ref", "side": "s", "id": self.lend(obj), "cls": _class_path(obj)}

    def _encode_tensor(self, t, grad_inputs):
        import torch

        if t.layout != torch.strided:
            t = t.to_dense()
        desc = {"$": "T", "dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                "rg": bool(t.requires_grad), "param": isinstance(t, torch.nn.Parameter)}
        if t.device.type == "meta":
            desc["meta"] = True
            return desc
        data = t.detach().to("cpu").contiguous()
        if data.dtype == torch.bfloat16:
            raw = data.view(torch.int16).numpy().tobytes()
        else:
            raw = data.numpy().tobytes()
        desc["b"] = base64.b64encode(raw).decode("ascii")
        if t.is_leaf and t.requires_grad and t.grad is not None and t.grad is not t:
            desc["grad"] = self._encode_tensor(t.grad, None)
        if t.requires_grad and t.grad_fn is not None and grad_inputs is not None:
            gid = next(self._ids)
            self.graphs[gid] = (t, list(grad_inputs))
            desc["g"] = gid
        return desc

    def decode(self, d, depth: int = 0, bridge_inputs: list | None = None, args: list | None = None):
        """The value a description stands for; refs become proxies (or our own lent objects)."""
        if depth > MAX_DEPTH:
            raise ProtocolError("value nested too deeply")
        if d is None or isinstance(d, (bool, int, float, str)):
            return d
        if isinstance(d, list):
            raise ProtocolError("bare list in a value")
        if not isinstance(d, dict):
            raise ProtocolError("bad value")
        rec = lambda v: self.decode(v, depth + 1, bridge_inputs, args)  # noqa: E731
        tag = d.get("$")
        if tag == "int":
            return int(str(d["v"])[:5000])
        if tag == "float":
            return float(d["v"])
        if tag == "T":
            return self._decode_tensor(d, bridge_inputs)
        if tag == "size":
            import torch
            return torch.Size([int(v) for v in d["v"]])
        if tag == "dtype":
            import torch
            if d["v"] not in _DTYPES:
                raise ProtocolError(f"dtype {d['v']!r}")
            return getattr(torch, d["v"])
        if tag == "device":
            import torch
            return torch.device(str(d["v"]))
        if tag in ("list", "tuple"):
            vals = [rec(v) for v in _as_list(d["v"])]
            return vals if tag == "list" else tuple(vals)
        if tag == "dict":
            return {rec(k): rec(v) for k, v in zip(_as_list(d["k"]), _as_list(d["v"]))}
        if tag == "slice":
            return slice(*[rec(v) for v in _as_list(d["v"])])
        if tag == "ndarray":
            return self._decode_tensor(d["t"], None).numpy()
        if tag == "arg":
            if args is None:
                raise ProtocolError("argument reference outside a call")
            return args[int(d["i"])]
        if tag == "ref":
            side, oid = d.get("side"), int(d["id"])
            mine = "t" if self.trusted else "s"
            if side == mine:
                if oid not in self.objects:
                    raise ProtocolError("unknown reference")
                return self.objects[oid]
            return Remote._make(self, oid, d.get("cls") or []) if self.trusted else Callback(self, oid)
        if tag == "pickle":
            if self.trusted:
                raise ProtocolError("pickle is never accepted from the sandbox")
            import pickle
            return pickle.loads(base64.b64decode(d["b"]))
        raise ProtocolError(f"unknown value tag {tag!r}")

    def _decode_tensor(self, d, bridge_inputs):
        import torch

        dtype = d.get("dtype")
        if dtype not in _DTYPES:
            raise ProtocolError(f"dtype {dtype!r}")
        shape = [int(s) for s in _as_list(d["shape"])]
        if len(shape) > 16 or any(s < 0 for s in shape):
            raise ProtocolError("bad tensor shape")
        dt = getattr(torch, dtype)
        if d.get("meta"):
            t = torch.empty(shape, dtype=dt, device="meta")
        else:
            raw = base64.b64decode(d["b"])
            n = 1
            for s in shape:
                n *= s
            item = torch.empty((), dtype=dt).element_size()
            if len(raw) != n * item:
                raise ProtocolError("tensor bytes do not match its shape")
            if dt == torch.bfloat16:
                t = torch.frombuffer(bytearray(raw), dtype=torch.int16).view(torch.bfloat16) if n else torch.empty(0, dtype=dt)
            else:
                t = torch.frombuffer(bytearray(raw), dtype=dt) if n else torch.empty(0, dtype=dt)
            t = t.reshape(shape).clone()
        if "g" in d and bridge_inputs is not None:
            dummy = torch.zeros((), requires_grad=True)
            return _Bridge.apply(self, int(d["g"]), t, dummy, *bridge_inputs)
        if d.get("rg") and (t.is_floating_point() or t.is_complex()):
            t = torch.nn.Parameter(t) if d.get("param") else t.requires_grad_(True)
            if isinstance(d.get("grad"), dict) and d["grad"].get("$") == "T" and "grad" not in d["grad"]:
                g = self._decode_tensor(d["grad"], None)
                if g.shape == t.shape:
                    t.grad = g.to(t.dtype)
            if self._leaves is not None:
                self._leaves.append(t)
        elif d.get("param"):
            t = torch.nn.Parameter(t, requires_grad=False)
        return t

    # ---- requests
    def request(self, op: str, **fields):
        """Send a request and serve the other side's nested requests until our reply arrives."""
        mid = next(self._msg)
        self.ch.send({"op": op, "mid": mid, **fields})
        while True:
            msg = self.ch.recv()
            if "reply" in msg:
                if msg["reply"] != mid:
                    raise ProtocolError("reply to another request")
                if "error" in msg:
                    e = msg["error"] if isinstance(msg["error"], dict) else {}
                    err = RemoteError(str(e.get("type", "Error"))[:100], str(e.get("msg", ""))[:2000],
                                      e.get("line") if isinstance(e.get("line"), int) else None)
                    err.cell = e.get("cell") if isinstance(e.get("cell"), int) else None
                    raise err
                return msg.get("value")
            self.serve_one(msg)

    def serve_one(self, msg: dict) -> None:
        mid = msg.get("mid")
        op = msg.get("op")
        try:
            handler = self.handlers.get(op)
            if handler is None:
                raise ProtocolError(f"operation {op!r} is not served here")
            value = handler(msg)
            self.ch.send({"reply": mid, "value": value})
        except (ProtocolError, Deadline):
            raise
        except BaseException as e:  # noqa: BLE001 - every failure is reported to the caller
            if isinstance(e, (SystemExit, KeyboardInterrupt)) and self.trusted:
                raise
            self.ch.send({"reply": mid, "error": error_info(e)})

    # ---- calls across the boundary
    def remote_call(self, op: str, target: int, args=(), kwargs=None, **extra):
        """Call ``target`` on the other side; write back changed arguments; bridge gradients."""
        import torch

        kwargs = kwargs or {}
        allargs = list(args) + list(kwargs.values())
        grad_inputs: list = []
        enc_args = [self._encode_arg(a, grad_inputs) for a in args]
        enc_kw = {str(k): self._encode_arg(v, grad_inputs) for k, v in kwargs.items()}
        ctx = {"grad": torch.is_grad_enabled(), "dev": str(torch.get_default_device())}
        reply = self.request(op, target=target, args=enc_args, kwargs=enc_kw, ctx=ctx, **extra)
        if not isinstance(reply, dict):
            raise ProtocolError("bad call reply")
        for i, state in (reply.get("writeback") or {}).items():
            i = int(i)
            if 0 <= i < len(allargs):
                self._write_back(allargs[i], state)
        return self.decode(reply.get("result"), bridge_inputs=grad_inputs, args=allargs)

    def _encode_arg(self, a, grad_inputs):
        import torch

        if isinstance(a, torch.Tensor) and a.requires_grad:
            grad_inputs.append(a)
        elif isinstance(a, (list, tuple)):
            for v in a:
                if isinstance(v, torch.Tensor) and v.requires_grad:
                    grad_inputs.append(v)
        return self.encode(a)

    def _write_back(self, obj, state):
        """Apply the sandbox's view of an argument after a call to our own object (grader side)."""
        import torch

        with torch.no_grad():
            if isinstance(obj, torch.Tensor) and isinstance(state, dict) and state.get("$") == "T":
                new = self._decode_tensor(state, None)
                if new.shape == obj.shape and new.dtype == obj.dtype and obj.device.type != "meta":
                    obj.copy_(new)
            elif isinstance(obj, torch.nn.Module) and isinstance(state, dict):
                modules = dict(obj.named_modules())
                for name, training in _as_list(state.get("training", [])):
                    if name in modules:
                        modules[name].training = bool(training)
                for name, desc in _as_list(state.get("tensors", [])):
                    owner_name, _, attr = str(name).rpartition(".")
                    owner = modules.get(owner_name)
                    if owner is None:
                        continue
                    new = self._decode_tensor(desc, None)
                    old = getattr(owner, attr, None)
                    if isinstance(old, torch.Tensor) and old.device.type != "meta" and new.device.type != "meta" \
                            and old.shape == new.shape and old.dtype == new.dtype \
                            and isinstance(old, torch.nn.Parameter) == bool(desc.get("param")) \
                            and old.requires_grad == bool(desc.get("rg")):
                        old.copy_(new)
                    elif attr in owner._parameters:
                        owner._parameters[attr] = new if isinstance(new, torch.nn.Parameter) else None
                        if not isinstance(new, torch.nn.Parameter):
                            del owner._parameters[attr]
                            owner.register_buffer(attr, new)
                    elif attr in owner._buffers:
                        owner._buffers[attr] = new.detach()


class _BridgeBase:
    pass


def _bridge_class():
    import torch

    class Bridge(torch.autograd.Function):
        """Output of the other side that depends on inputs requiring grad: backward asks the other side."""

        @staticmethod
        def forward(ctx, ep, gid, value, dummy, *inputs):
            ctx.ep, ctx.gid, ctx.n = ep, gid, len(inputs)
            return value.clone()

        @staticmethod
        def backward(ctx, grad):
            ep = ctx.ep
            reply = ep.request("backward", gid=ctx.gid, grad=ep.encode(grad.detach()))
            grads = [ep.decode(g) if g is not None else None for g in _as_list(reply or [])]
            grads = (grads + [None] * ctx.n)[:ctx.n]
            return (None, None, None, None, *grads)

    return Bridge


class _LazyBridge:
    _cls = None

    def apply(self, *a):
        if _LazyBridge._cls is None:
            _LazyBridge._cls = _bridge_class()
        return _LazyBridge._cls.apply(*a)


_Bridge = _LazyBridge()


def serve_backward(ep: Endpoint, msg: dict):
    """Handler: the other side's backward through a graph we lent (one of our outputs)."""
    import torch

    gid = int(msg["gid"])
    if gid not in ep.graphs:
        raise ProtocolError("unknown graph")
    out, leaves = ep.graphs[gid]
    grad = ep.decode(msg["grad"])
    if not isinstance(grad, torch.Tensor):
        raise ProtocolError("gradient is not a tensor")
    grad = grad.to(out.dtype)
    olds = [(leaf.grad.clone() if leaf.grad is not None else None) if leaf.is_leaf else None for leaf in leaves]
    nonleaf = [leaf for leaf in leaves if not leaf.is_leaf]
    for leaf in nonleaf:
        leaf.retain_grad()
    torch.autograd.backward(out, grad, retain_graph=True)
    res = []
    for leaf, old in zip(leaves, olds):
        g = leaf.grad
        if g is None:
            res.append(None)
            continue
        res.append(ep.encode((g - old) if old is not None else g.clone()))
        leaf.grad = old
    return res


# --------------------------------------------------------------------------- proxies
class Remote:
    """A sandbox object seen from the grader: attributes, calls, iteration go to the sandbox.

    Comparisons, arithmetic and truth tests are NOT forwarded (a proxy is always true and equal
    only to itself), so an object from the sandbox cannot decide an assertion. ``isinstance``
    sees the first torch/builtins class in the object's reported MRO.
    """

    __slots__ = ("_ep", "_id", "_cls")

    @classmethod
    def _make(cls, ep, oid, clspath):
        obj = object.__new__(cls)
        object.__setattr__(obj, "_ep", ep)
        object.__setattr__(obj, "_id", oid)
        object.__setattr__(obj, "_cls", _resolve_class(clspath))
        return obj

    @property
    def __class__(self):  # noqa: D401 - isinstance() consults __class__
        c = object.__getattribute__(self, "_cls")
        return c if c is not None else Remote

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return self._ep.decode(self._ep.request("getattr", target=self._id, name=name))

    def __setattr__(self, name, value):
        self._ep.request("setattr", target=self._id, name=name, value=self._ep.encode(value))

    def __call__(self, *args, **kwargs):
        return self._ep.remote_call("call", self._id, args, kwargs)

    def __iter__(self):
        it = self._ep.decode(self._ep.request("iter", target=self._id))
        return _RemoteIterator(it) if isinstance(it, Remote) else iter(it)

    def __next__(self):
        return _RemoteIterator(self).__next__()

    def __len__(self):
        n = self._ep.decode(self._ep.request("len", target=self._id))
        if not isinstance(n, int) or isinstance(n, bool) or n < 0:
            raise TypeError("len() of a sandbox object is not a non-negative int")
        return n

    def __getitem__(self, key):
        return self._ep.decode(self._ep.request("getitem", target=self._id, key=self._ep.encode(key)))

    def __bool__(self):
        return True

    def __eq__(self, other):
        return self is other

    def __ne__(self, other):
        return self is not other

    __hash__ = object.__hash__

    def __repr__(self):
        return f"<sandbox object {self._id}>"


class _RemoteIterator:
    def __init__(self, proxy):
        self.proxy = proxy

    def __iter__(self):
        return self

    def __next__(self):
        ep = object.__getattribute__(self.proxy, "_ep")
        reply = ep.request("next", target=object.__getattribute__(self.proxy, "_id"))
        if not isinstance(reply, dict):
            raise ProtocolError("bad next reply")
        if reply.get("stop"):
            raise StopIteration
        return ep.decode(reply.get("value"))


class Callback:
    """A grader function seen from the sandbox: it can only be called."""

    __slots__ = ("_ep", "_id")

    def __init__(self, ep, oid):
        self._ep, self._id = ep, oid

    def __call__(self, *args, **kwargs):
        return self._ep.remote_call("call", self._id, args, kwargs)

    def __repr__(self):
        return f"<grader function {self._id}>"


# --------------------------------------------------------------------------- helpers
def _as_list(v):
    if not isinstance(v, list):
        raise ProtocolError("expected a list")
    return v


def _is_namedtuple(obj) -> bool:
    return isinstance(obj, tuple) and hasattr(type(obj), "_fields")


def _class_path(obj) -> list[str]:
    try:
        return [f"{c.__module__}:{c.__qualname__}" for c in type(obj).__mro__][:30]
    except Exception:  # noqa: BLE001
        return []


_CLASS_MODULES = ("torch", "builtins", "collections")


def _resolve_class(paths):
    """The first class of a reported MRO that the grader itself knows (torch, builtins), else None."""
    import sys

    if not isinstance(paths, list):
        return None
    for p in paths[:30]:
        if not isinstance(p, str) or ":" not in p:
            continue
        mod, _, qual = p.partition(":")
        if mod == "builtins" and qual == "object":
            return None
        if mod.split(".")[0] not in _CLASS_MODULES or mod not in sys.modules:
            continue
        obj = sys.modules[mod]
        for part in qual.split("."):
            obj = getattr(obj, part, None)
        if isinstance(obj, type) and obj is not Remote:
            return obj
    return None


def error_info(e: BaseException) -> dict:
    """Type, message and, for code of a notebook cell (file ``<cell N>``), the cell and line."""
    line = cell = None
    if isinstance(e, SyntaxError):
        line = e.lineno
        if isinstance(e.filename, str) and e.filename.startswith("<cell "):
            cell = _cell_no(e.filename)
        msg = e.msg or ""
    else:
        msg = str(e)
    tb = e.__traceback__
    while tb is not None:
        fn = tb.tb_frame.f_code.co_filename
        if isinstance(fn, str) and fn.startswith("<cell "):
            line, cell = tb.tb_lineno, _cell_no(fn)
        tb = tb.tb_next
    return {"type": type(e).__name__, "msg": msg[:1000], "line": line, "cell": cell}


def _cell_no(fn: str):
    try:
        return int(fn[6:-1])
    except ValueError:
        return None
