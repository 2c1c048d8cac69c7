"""The course image spec (binder/, repo2docker): one package list, shared with requirements.txt.

What is checked here without Docker: binder/requirements.txt adds no package of its own and
includes ../requirements.txt (so the two cannot drift); postBuild and start are valid bash that
install nothing by name; the Python version agrees with pyproject.toml; the files postBuild copies
exist; and (slow) repo2docker renders the Dockerfile with --no-build, which shows the steps in
the order Docker would run them. Building and running the image needs Docker: not done here.
"""
import re
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from packaging.specifiers import SpecifierSet
from packaging.version import Version

ROOT = Path(__file__).resolve().parent.parent
BINDER = ROOT / "binder"


def requirement_lines(path: Path, seen=None) -> list[str]:
    """The requirement lines of a pip requirements file with its -r includes expanded (as pip does:
    relative to the including file). Options (--index-url ...) are returned as they are."""
    seen = set() if seen is None else seen
    path = path.resolve()
    if path in seen:
        raise AssertionError(f"-r cycle at {path}")
    seen.add(path)
    out = []
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.split(" #", 1)[0].strip() if not raw.lstrip().startswith("#") else ""
        if not line:
            continue
        m = re.fullmatch(r"(?:-r|--requirement)[ =]?\s*(\S+)", line)
        if m:
            out += requirement_lines(path.parent / m.group(1), seen)
        else:
            out.append(line)
    return out


def own_lines(path: Path) -> list[str]:
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()
            if ln.strip() and not ln.strip().startswith("#")]


def test_binder_requirements_only_point_at_the_one_list():
    lines = own_lines(BINDER / "requirements.txt")
    includes = [ln for ln in lines if ln.startswith(("-r", "--requirement"))]
    assert includes == ["-r ../requirements.txt"], "binder/requirements.txt must include ../requirements.txt once"
    others = [ln for ln in lines if ln not in includes]
    assert all(ln.startswith(("--extra-index-url", "--index-url", "--find-links")) for ln in others), \
        f"binder/requirements.txt lists packages of its own (they would drift): {others}"


def test_binder_and_course_requirements_agree():
    course = [ln for ln in requirement_lines(ROOT / "requirements.txt")]
    image = [ln for ln in requirement_lines(BINDER / "requirements.txt") if not ln.startswith("--")]
    assert image == course
    assert any(ln.startswith("torch==") for ln in image), "torch stays pinned in the image"


def test_drift_would_be_caught(tmp_path):
    """The agreement check fails when binder/ lists a package itself."""
    (tmp_path / "binder").mkdir()
    (tmp_path / "requirements.txt").write_text("numpy>=2\n", encoding="utf-8")
    (tmp_path / "binder" / "requirements.txt").write_text("-r ../requirements.txt\nnumpy==1.26\n", encoding="utf-8")
    image = requirement_lines(tmp_path / "binder" / "requirements.txt")
    assert image != requirement_lines(tmp_path / "requirements.txt")


def test_runtime_matches_pyproject():
    runtime = (BINDER / "runtime.txt").read_text(encoding="utf-8").strip()
    m = re.fullmatch(r"python-(\d+\.\d+)", runtime)
    assert m, f"runtime.txt must read python-X.Y, got {runtime!r}"
    requires = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["requires-python"]
    assert Version(m.group(1)) in SpecifierSet(requires)


@pytest.mark.parametrize("name", ["postBuild", "start"])
def test_scripts_are_executable_bash(name):
    path = BINDER / name
    assert path.stat().st_mode & 0o111, f"binder/{name} must be executable"
    assert path.read_text(encoding="utf-8").startswith("#!/bin/bash\n")
    assert subprocess.run(["bash", "-n", str(path)], capture_output=True).returncode == 0


def test_postbuild_installs_no_package_by_name():
    text = (BINDER / "postBuild").read_text(encoding="utf-8")
    assert "set -euo pipefail" in text
    installs = re.findall(r"pip install ([^\n]+)", text)
    assert installs, "postBuild installs helpers"
    for args in installs:
        targets = [a for a in args.split() if not a.startswith("-")]
        assert targets == ["."], f"postBuild may install only the course's own package, not {targets}"
    assert "--no-deps" in installs[0], "helpers' dependencies come from requirements.txt, not a second resolve"
    assert "pip install -e" not in text, "an editable install would vanish under a hub's home volume"
    assert "npm ci" in text and "npm install" not in text, "npm assets come from package-lock.json"


def test_postbuild_copies_files_that_exist():
    text = (BINDER / "postBuild").read_text(encoding="utf-8")
    for src in re.findall(r"^cp (\S+) ", text, flags=re.M):
        if src.startswith("node_modules/"):
            if not (ROOT / "node_modules").exists():
                pytest.skip("node_modules not installed (npm ci)")
            assert list(ROOT.glob(src)), f"postBuild copies {src}, which npm ci does not provide"
        else:
            assert (ROOT / src).exists(), f"postBuild copies {src}, which is not in the repository"


def test_start_execs_its_arguments():
    text = (BINDER / "start").read_text(encoding="utf-8")
    assert text.rstrip().endswith('exec "$@"'), "binder/start must end by running the server it was given"


def _repo2docker():
    exe = Path(sys.executable).parent / "jupyter-repo2docker"
    return str(exe) if exe.exists() else shutil.which("jupyter-repo2docker")


@pytest.mark.slow
def test_repo2docker_renders_the_dockerfile(tmp_path):
    """`jupyter-repo2docker --no-build --debug` prints the Dockerfile without Docker or network."""
    exe = _repo2docker()
    if exe is None:
        pytest.skip("jupyter-repo2docker is not installed (requirements.txt)")
    # a clean copy of the tracked files, as BinderHub would clone it (no .venv, no node_modules)
    src = tmp_path / "repo"
    subprocess.run(["git", "clone", "--quiet", "--depth", "1", f"file://{ROOT}", str(src)], check=True)
    for p in ("binder/requirements.txt", "binder/postBuild", "binder/start", "binder/runtime.txt",
              "requirements.txt"):
        (src / p).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / p, src / p)  # the working tree's version, committed or not
    res = subprocess.run([exe, "--no-build", "--debug", "--no-run", str(src)], capture_output=True,
                         text=True, timeout=300, cwd=tmp_path)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "Building conda environment for python=3.11" in out
    copy_all = out.index("COPY --chown=0:0 src/ ${REPO_DIR}/")
    pip = out.index('pip install --no-cache-dir -r "binder/requirements.txt"')
    post = out.index("RUN ./binder/postBuild")
    start = out.index('ENV R2D_ENTRYPOINT="${REPO_DIR}/binder/start"')
    assert copy_all < pip < post < start, "the repository must be copied before the -r ../requirements.txt install"
