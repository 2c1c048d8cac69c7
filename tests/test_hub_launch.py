"""The «باز کردن در JupyterHub» button on lab pages (_ext/hub_launch.py): link format and settings.

The link is followed on a real hub in tests/test_hub.py; here its format is checked against
nbgitpuller's documented link form, and the button's on/off logic against _config.yml.
"""
import sys
from pathlib import Path
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "_ext"))
import hub_launch  # noqa: E402

HUB = "https://hub.example.ac.ir"
REPO = "https://git.example.ac.ir/dl-fa/book.git"


def _config(**kw):
    base = dict(course_hub_url=HUB, course_hub_repo=REPO, course_hub_branch="main", course_hub_targetpath="",
                course_hub_pages=["labs/student/*"], html_theme_options={})
    base.update(kw)
    return SimpleNamespace(**base)


def test_link_has_nbgitpuller_form():
    link = hub_launch.nbgitpuller_link(HUB + "/", REPO, "labs/student/lab1_batchnorm.ipynb", branch="main")
    parts = urlsplit(link)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "hub.example.ac.ir", "/hub/user-redirect/git-pull")
    q = parse_qs(parts.query, strict_parsing=True)
    assert q == {"repo": [REPO], "branch": ["main"], "targetpath": ["book"],
                 "urlpath": ["lab/tree/book/labs/student/lab1_batchnorm.ipynb"]}
    # every reserved character of the values is escaped: one '?', '&' only between parameters
    assert link.count("?") == 1 and parts.query.count("&") == 3 and "//" not in parts.query


def test_link_targetpath_and_classic_notebook():
    link = hub_launch.nbgitpuller_link(HUB, REPO, "labs/student/lab2_activations.ipynb", targetpath="dl-fa",
                                       app="notebook")
    q = parse_qs(urlsplit(link).query)
    assert q["targetpath"] == ["dl-fa"] and q["urlpath"] == ["notebooks/dl-fa/labs/student/lab2_activations.ipynb"]


@pytest.mark.parametrize("kwargs, message", [
    (dict(hub_url="hub.example.ac.ir"), "http"),
    (dict(hub_url="ftp://hub.example.ac.ir"), "http"),
    (dict(hub_url="https://hub.example.ac.ir/?x=1"), "query"),
    (dict(repo=""), "course_hub_repo"),
    (dict(path="/etc/passwd"), "relative"),
    (dict(path="labs/../../x.ipynb"), "relative"),
    (dict(branch=""), "branch"),
    (dict(targetpath="a/b"), "one folder"),
])
def test_bad_settings_are_clear_errors(kwargs, message):
    args = dict(hub_url=HUB, repo=REPO, path="labs/student/lab1_batchnorm.ipynb", branch="main")
    args.update(kwargs)
    with pytest.raises(hub_launch.HubConfigError, match=message):
        hub_launch.nbgitpuller_link(args.pop("hub_url"), args.pop("repo"), args.pop("path"), **args)


def test_button_only_on_lab_pages_and_only_with_a_hub():
    cfg = _config()
    assert hub_launch.page_link(cfg, "labs/student/lab1_batchnorm", ".ipynb").startswith(HUB + "/hub/user-redirect/")
    assert hub_launch.page_link(cfg, "chapters/ch1_batchnorm", ".ipynb") is None
    assert hub_launch.page_link(_config(course_hub_pages=["labs/student/lab*"]), "labs/README", ".md") is None
    assert hub_launch.page_link(_config(course_hub_url=""), "labs/student/lab1_batchnorm", ".ipynb") is None
    assert hub_launch.page_link(_config(course_hub_url="  "), "labs/student/lab1_batchnorm", ".ipynb") is None


def test_repository_url_is_the_fallback_repo():
    cfg = _config(course_hub_repo="", html_theme_options={"repository_url": "https://github.com/x/dl-fa"})
    q = parse_qs(urlsplit(hub_launch.page_link(cfg, "labs/student/lab1_batchnorm", ".ipynb")).query)
    assert q["repo"] == ["https://github.com/x/dl-fa"] and q["targetpath"] == ["dl-fa"]


def test_button_html_escapes_and_is_persian():
    link = hub_launch.nbgitpuller_link(HUB, REPO, "labs/student/lab1_batchnorm.ipynb")
    html = hub_launch.button_html(link)
    assert "باز کردن در JupyterHub" in html and 'dir="rtl"' in html
    assert "&amp;branch=" in html and "&branch=" not in html


def test_add_button_prepends_to_lab_pages_only():
    app = SimpleNamespace(config=_config(), env=SimpleNamespace(doc2path=lambda name, base: f"{name}.ipynb"))
    lab = {"body": "<p>lab</p>"}
    hub_launch.add_button(app, "labs/student/lab1_batchnorm", "page.html", lab, doctree=object())
    assert lab["body"].startswith('<div class="course-hub-launch"') and lab["body"].endswith("<p>lab</p>")
    chapter = {"body": "<p>ch</p>"}
    hub_launch.add_button(app, "chapters/ch1", "page.html", chapter, doctree=object())
    assert chapter["body"] == "<p>ch</p>"


def test_bad_hub_setting_fails_the_build_at_start():
    from sphinx.errors import ConfigError
    with pytest.raises(ConfigError, match="course_hub_url"):
        hub_launch.check_config(None, _config(course_hub_url="hub.example.ac.ir"))
    hub_launch.check_config(None, _config(course_hub_url=""))  # off: nothing to check


def test_config_registers_the_extension_and_leaves_the_button_off():
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    assert cfg["sphinx"]["local_extensions"].get("hub_launch") == "_ext"
    sphinx_cfg = cfg["sphinx"]["config"]
    assert "course_hub_url" in sphinx_cfg, "the hub address key belongs in _config.yml (sphinx.config)"
    assert sphinx_cfg["course_hub_url"] == "", "the button stays off until the course hub exists"


@pytest.mark.slow
@pytest.mark.parametrize("hub", ["", HUB])
def test_sphinx_build_shows_the_button_only_with_a_hub(tmp_path, hub):
    """A small Sphinx project with the extension: the lab page carries the link, other pages don't."""
    from sphinx.application import Sphinx

    src = tmp_path / "src"
    (src / "labs" / "student").mkdir(parents=True)
    (src / "conf.py").write_text(
        f"import sys\nsys.path.insert(0, {str(ROOT / '_ext')!r})\nextensions = ['hub_launch']\n"
        f"course_hub_url = {hub!r}\ncourse_hub_repo = {REPO!r}\n", encoding="utf-8")
    (src / "index.rst").write_text("Index\n=====\n\n.. toctree::\n\n   labs/student/lab1\n   other\n", encoding="utf-8")
    (src / "labs" / "student" / "lab1.rst").write_text("Lab 1\n=====\n\ntext\n", encoding="utf-8")
    (src / "other.rst").write_text("Other\n=====\n\ntext\n", encoding="utf-8")
    app = Sphinx(str(src), str(src), str(tmp_path / "html"), str(tmp_path / "doctrees"), "html",
                 status=None, warning=None, freshenv=True)
    app.build()
    lab = (tmp_path / "html" / "labs" / "student" / "lab1.html").read_text(encoding="utf-8")
    other = (tmp_path / "html" / "other.html").read_text(encoding="utf-8")
    assert "course-hub-launch" not in other
    if hub:
        assert "باز کردن در JupyterHub" in lab
        assert "https://hub.example.ac.ir/hub/user-redirect/git-pull?repo=" in lab
        assert "urlpath=lab%2Ftree%2Fbook%2Flabs%2Fstudent%2Flab1.rst" in lab
    else:
        assert "course-hub-launch" not in lab
