"""deploy/: the Zero to JupyterHub values, The Littlest JupyterHub steps and the instructor's guide.

Offline, the Helm chart's own schema is not available, so the keys this course sets are checked
against a subset of it declared here: the types and allowed keys of jupyterhub chart 4.4.0's
values.schema.yaml for exactly the paths deploy/z2jh/*.yaml use (additionalProperties: false
where the chart has it). The full schema was also run once by hand, with the chart's defaults
merged in as Helm does (see deploy/README.md, «اعتبارسنجی»). The numbers in the values file are
checked against the benchmark's measurements, and every command block of the Persian guide is
either run here, named as exercised by a test, or marked not runnable with its reason.
"""
import re
import subprocess
from pathlib import Path

import jsonschema
import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
VALUES = DEPLOY / "z2jh" / "values.yaml"
GPU = DEPLOY / "z2jh" / "values-gpu.yaml"
GUIDE = DEPLOY / "README.md"

NUM_OR_STR = {"type": ["number", "string", "null"]}
STR = {"type": ["string", "null"]}
INT = {"type": ["integer", "null"]}
BOOL = {"type": ["boolean", "null"]}
RESOURCES = {"type": "object", "additionalProperties": True}


def _obj(props, extra=False, **kw):
    return {"type": "object", "additionalProperties": extra, "properties": props, **kw}


# Subset of zero-to-jupyterhub-k8s jupyterhub/values.schema.yaml at tag 4.4.0 (commit 5c5f5df),
# only the paths this course sets, with the chart's types and closed objects.
CHART_SUBSET = _obj({
    "hub": _obj({
        "config": {"type": "object", "additionalProperties": True},
        "extraConfig": {"type": "object", "additionalProperties": {"type": "string"}},
        "resources": RESOURCES,
        "concurrentSpawnLimit": INT,
        "consecutiveFailureLimit": INT,
    }, extra=True),
    "proxy": _obj({
        "chp": _obj({"resources": RESOURCES}, extra=True),
        "https": _obj({"enabled": BOOL, "hosts": {"type": "array", "items": {"type": "string"}},
                       "letsencrypt": _obj({"contactEmail": STR}, extra=True)}, extra=True),
    }, extra=True),
    "singleuser": _obj({
        "image": _obj({"name": STR, "tag": STR, "pullPolicy": {"enum": [None, "", "IfNotPresent", "Always", "Never"]},
                       "pullSecrets": {"type": "array"}}),
        "defaultUrl": STR,
        "startTimeout": INT,
        "memory": _obj({"limit": NUM_OR_STR, "guarantee": NUM_OR_STR}),
        "cpu": _obj({"limit": {"type": ["number", "null"]}, "guarantee": {"type": ["number", "null"]}}),
        "extraEnv": {"type": "object"},
        "storage": _obj({"capacity": STR, "extraVolumes": {"type": ["array", "object", "null"]},
                         "extraVolumeMounts": {"type": ["array", "object", "null"]}}, extra=True),
        "lifecycleHooks": {"type": "object"},
        "profileList": {"type": "array"},
    }),
    "cull": _obj({"enabled": {"type": "boolean"}, "users": {"type": "boolean"}, "adminUsers": {"type": "boolean"},
                  "removeNamedServers": {"type": "boolean"}, "timeout": INT, "every": INT, "concurrency": INT,
                  "maxAge": INT}),
    "prePuller": _obj({"hook": _obj({"enabled": {"type": "boolean"}}, extra=True),
                       "continuous": _obj({"enabled": {"type": "boolean"}})}, extra=True),
    "scheduling": _obj({
        "userScheduler": _obj({"enabled": {"type": "boolean"}}, extra=True),
        "podPriority": _obj({"enabled": {"type": "boolean"}}, extra=True),
        "userPlaceholder": _obj({"enabled": {"type": "boolean"}, "replicas": {"type": "integer"}}, extra=True),
        "userPods": _obj({"nodeAffinity": _obj({"matchNodePurpose": {"enum": ["ignore", "prefer", "require"]}})},
                         extra=True),
    }, extra=True),
}, extra=True)


def _load(path):
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def _merge(a, b):
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _errors(values):
    return [f"{'/'.join(map(str, e.path))}: {e.message}"
            for e in jsonschema.Draft7Validator(CHART_SUBSET).iter_errors(values)]


@pytest.mark.parametrize("files", [[VALUES], [VALUES, GPU]], ids=["values", "values+gpu"])
def test_values_follow_the_chart_schema(files):
    values = {}
    for f in files:
        values = _merge(values, _load(f))
    assert _errors(values) == []


def test_subset_schema_catches_mistakes():
    bad = _merge(_load(VALUES), {"singleuser": {"cpus": 2, "memory": {"guarantee": ["1G"]}}, "cull": {"timeout": "1h"}})
    errors = _errors(bad)
    assert any("cpus" in e for e in errors) and any("guarantee" in e for e in errors) and \
        any("timeout" in e for e in errors), errors


def _gb(text):
    m = re.fullmatch(r"(\d+(?:\.\d+)?)([GM])", str(text))
    assert m, f"memory as a number and G/M, got {text!r}"
    return float(m.group(1)) * (1 if m.group(2) == "G" else 1 / 1000)


def test_values_carry_the_class_settings():
    v = _load(VALUES)
    su = v["singleuser"]
    assert su["defaultUrl"] == "/lab" and su["extraEnv"]["OMP_NUM_THREADS"] == "1"
    assert 0 < su["cpu"]["guarantee"] <= su["cpu"]["limit"]
    assert _gb(su["memory"]["guarantee"]) <= _gb(su["memory"]["limit"])
    mounts = {m["name"]: m for m in su["storage"]["extraVolumeMounts"]}
    assert mounts["course-shared"]["readOnly"] is True, "the shared course folder is read-only for students"
    assert mounts["submissions"]["subPath"] == "{username}", "each student sees only their own submit folder"
    assert "all-submissions" in v["hub"]["extraConfig"]["10-instructor-submissions"]
    assert v["cull"]["enabled"] and 0 < v["cull"]["timeout"] <= 3600 and v["cull"]["every"] <= v["cull"]["timeout"]
    assert v["hub"]["config"]["Authenticator"].get("allow_all") is True


def test_memory_guarantee_covers_the_measured_peak():
    import json

    results = ROOT / "benchmarks" / "hub_results.json"
    if not results.exists():
        pytest.skip("no benchmark results yet (make hub-bench)")
    data = json.loads(results.read_text(encoding="utf-8"))
    peak_mb = max(r["user_rss_max_mb"] for r in data["runs"] if r["user_rss_max_mb"])
    labs = data["machine"].get("labs") or []
    if labs:  # every lab's kernel alone, plus the server's share measured on the hub (server + kernel - kernel)
        assert all(r["ok"] for r in labs), labs
        lab1 = next(r["peak_rss_mb"] for r in labs if r["lab"].startswith("lab1"))
        peak_mb = max(peak_mb, max(r["peak_rss_mb"] for r in labs) + (peak_mb - lab1))
    guarantee_gb = _gb(_load(VALUES)["singleuser"]["memory"]["guarantee"])
    assert guarantee_gb * 1000 >= peak_mb * 1.2, "the guarantee leaves less than 20 % over the measured peak"


def test_values_extra_config_is_python():
    for name, code in _load(VALUES)["hub"]["extraConfig"].items():
        compile(code, name, "exec")


def test_image_jupyterhub_matches_the_chart():
    req = (ROOT / "requirements.txt").read_text(encoding="utf-8")
    assert re.search(r"^jupyterhub==5\.5\.\d+$", req, flags=re.M), \
        "chart 4.4.0 runs JupyterHub 5.5: the image's jupyterhub-singleuser must be 5.5.x"
    assert "4.4.0" in VALUES.read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- TLJH
def test_tljh_setup_script():
    script = DEPLOY / "tljh" / "setup-course.sh"
    text = script.read_text(encoding="utf-8")
    assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert "set -euo pipefail" in text and "python=3.11" in text
    assert '-r "$SRC/requirements.txt"' in text, "packages come from requirements.txt only"
    for args in re.findall(r"pip\" install ([^\n]+)", text):
        # a pin read from requirements.txt is not a second list
        args = re.sub(r"\"\$\(grep -E '\^[a-z-]+==' \"\$SRC/requirements.txt\"\)\"", "", args)
        named = [a for a in args.split() if not a.startswith(("-", '"$SRC'))]
        assert named in ([], ["https://download.pytorch.org/whl/cpu"]), f"a package named outside requirements.txt: {args}"
    for rel in re.findall(r'"\$SRC/([^"$]+)"', text):
        if "node_modules" not in rel:
            assert (ROOT / rel).exists(), f"setup-course.sh uses {rel}, which the repository does not have"
    compile((DEPLOY / "tljh" / "jupyterhub_config.d" / "dlfa.py").read_text(encoding="utf-8"), "dlfa.py", "exec")


def test_tljh_config_loads_in_jupyterhub(tmp_path):
    """TLJH's drop-in file is valid JupyterHub configuration (loaded as TLJH loads it)."""
    from traitlets.config import PyFileConfigLoader

    loader = PyFileConfigLoader("dlfa.py", path=str(DEPLOY / "tljh" / "jupyterhub_config.d"))
    cfg = loader.load_config()
    env = cfg.Spawner.environment.get_value({})  # applied on top of TLJH's own (empty here)
    assert env["JUPYTER_CONFIG_DIR"] == "/opt/tljh/course-jupyter" and env["OMP_NUM_THREADS"] == "1"
    assert cfg.Spawner.default_url == "/lab" and cfg.Spawner.start_timeout >= 300


# ----------------------------------------------------------------------------- the guide
MARK = re.compile(r"<!--\s*(run|test|not runnable):\s*([^>]*?)\s*-->\s*\n```(bash|sh)\n(.*?)```", re.S)
BLOCK = re.compile(r"```(bash|sh)\n(.*?)```", re.S)


def _guide_blocks():
    text = GUIDE.read_text(encoding="utf-8")
    return text, MARK.findall(text), BLOCK.findall(text)


def test_every_guide_command_is_tested_or_marked():
    text, marked, blocks = _guide_blocks()
    assert len(blocks) >= 8, "the guide has its commands in bash blocks"
    assert len(marked) == len(blocks), (
        "every ```bash block of deploy/README.md needs a marker line before it: "
        "<!-- run: ... -->, <!-- test: tests/...::test_name --> or <!-- not runnable: reason -->")
    for kind, arg, _, body in marked:
        if kind == "test":
            for ref in arg.split(","):
                path, _, name = ref.strip().partition("::")
                assert (ROOT / path).exists(), f"guide names {path}, which does not exist"
                assert re.search(rf"^def {re.escape(name)}\(", (ROOT / path).read_text(encoding="utf-8"), re.M), \
                    f"guide names {ref}, which is not a test"
        elif kind == "not runnable":
            assert len(arg) > 10, f"say why this block cannot run here: {body[:80]!r}"


@pytest.mark.slow
def test_runnable_guide_commands_run(tmp_path):
    """The blocks marked <!-- run: --> are run here, from the repository root."""
    _, marked, _ = _guide_blocks()
    runnable = [body for kind, _, _, body in marked if kind == "run"]
    assert runnable, "at least one guide block is run by this test"
    for body in runnable:
        res = subprocess.run(["bash", "-euo", "pipefail", "-c", body], cwd=ROOT, capture_output=True, text=True,
                             timeout=600, env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
        assert res.returncode == 0, f"guide block failed:\n{body}\n{res.stdout[-2000:]}\n{res.stderr[-2000:]}"
