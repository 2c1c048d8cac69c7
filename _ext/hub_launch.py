"""Sphinx extension: a «باز کردن در JupyterHub» button on every lab page.

The button is an nbgitpuller link to the course's JupyterHub: a student who clicks it logs in,
nbgitpuller clones (or, later, merges into) the course repository in their home folder, and
JupyterLab opens the lab. It is shown only when ``course_hub_url`` is set (in ``_config.yml``
under ``sphinx.config``, beside the other launch settings)::

    course_hub_url: https://hub.example.ac.ir   # the hub's public address; "" = no button
    course_hub_repo: https://git.example.ac.ir/dl-fa/book.git   # what the hub pulls
    course_hub_branch: main
    course_hub_targetpath: dl-fa-course          # the folder in the student's home
    course_hub_pages: ["labs/student/*"]         # which pages get the button

The link has nbgitpuller's documented form (the one its link generator writes)::

    {hub}/hub/user-redirect/git-pull?repo=…&branch=…&urlpath=lab/tree/{targetpath}/{page}.ipynb&targetpath=…

``tests/test_hub_launch.py`` checks the format; ``tests/test_hub.py`` follows the same link on a
real hub (loopback) and checks that it pulls the labs.
"""
from __future__ import annotations

import fnmatch
import html
from urllib.parse import urlencode, urlsplit

LABEL = "باز کردن در JupyterHub"
TITLE = "این آزمایشگاه را در JupyterHub درس باز کن (آخرین نسخهٔ درس با nbgitpuller به پوشهٔ خانه‌ات کشیده می‌شود)"


class HubConfigError(ValueError):
    """A course_hub_* setting that cannot produce a working link."""


def _check_http_url(value: str, key: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise HubConfigError(f"{key} must be an http(s) address such as https://hub.example.ac.ir, got {value!r}")
    if parts.query or parts.fragment:
        raise HubConfigError(f"{key} must not have a query or fragment, got {value!r}")
    return value.rstrip("/")


def default_targetpath(repo: str) -> str:
    """The folder nbgitpuller clones into when no targetpath is given: the repository's last name part."""
    name = repo.rstrip("/").split("/")[-1]
    return name[:-4] if name.endswith(".git") else name


def nbgitpuller_link(hub_url: str, repo: str, path: str, branch: str = "main",
                     targetpath: str | None = None, app: str = "lab") -> str:
    """The nbgitpuller link that pulls ``repo`` (``branch``) on ``hub_url`` and opens ``path``.

    ``path`` is the notebook's path inside the repository (``labs/student/lab1_batchnorm.ipynb``).
    """
    hub_url = _check_http_url(hub_url, "course_hub_url")
    if not repo:
        raise HubConfigError("course_hub_repo (the git address the hub pulls) is empty")
    if not path or path.startswith("/") or ".." in path.split("/"):
        raise HubConfigError(f"the page path must be relative to the repository, got {path!r}")
    if not branch:
        raise HubConfigError("course_hub_branch is empty")
    target = targetpath or default_targetpath(repo)
    if not target or "/" in target or target in (".", ".."):
        raise HubConfigError(f"course_hub_targetpath must be one folder name, got {target!r}")
    if app not in ("lab", "notebook"):
        raise HubConfigError(f"app must be 'lab' or 'notebook', got {app!r}")
    urlpath = f"{'lab/tree' if app == 'lab' else 'notebooks'}/{target}/{path}"
    query = urlencode({"repo": repo, "branch": branch, "urlpath": urlpath, "targetpath": target})
    return f"{hub_url}/hub/user-redirect/git-pull?{query}"


def button_html(link: str) -> str:
    return (f'<div class="course-hub-launch" dir="rtl">'
            f'<a class="btn btn-sm btn-outline-primary" href="{html.escape(link, quote=True)}" '
            f'title="{html.escape(TITLE, quote=True)}" target="_blank" rel="noopener">{LABEL}</a></div>\n')


def page_link(config, docname: str, source_suffix: str) -> str | None:
    """The button's link for ``docname``, or None when the page gets no button."""
    hub = (config.course_hub_url or "").strip()
    if not hub:
        return None
    if not any(fnmatch.fnmatch(docname, pat) for pat in config.course_hub_pages):
        return None
    repo = (config.course_hub_repo or "").strip()
    if not repo:
        repo = ((config.html_theme_options or {}).get("repository_url") or "").strip()
    return nbgitpuller_link(hub, repo, docname + source_suffix, branch=config.course_hub_branch,
                            targetpath=(config.course_hub_targetpath or None))


def check_config(app, config) -> None:
    """Fail the build at start-up on a hub setting that would make broken links."""
    if (config.course_hub_url or "").strip():
        try:
            page_link(config, "labs/student/lab1_batchnorm", ".ipynb")  # raises on bad settings
        except HubConfigError as e:
            from sphinx.errors import ConfigError
            raise ConfigError(f"hub_launch: {e}") from None


def add_button(app, pagename, templatename, context, doctree) -> None:
    if doctree is None or "body" not in context:
        return
    try:
        source = app.env.doc2path(pagename, False)
    except Exception:
        return
    suffix = "." + str(source).rsplit(".", 1)[-1] if "." in str(source) else ""
    link = page_link(app.config, pagename, suffix)
    if link:
        context["body"] = button_html(link) + context["body"]


def setup(app):
    app.add_config_value("course_hub_url", "", "html")
    app.add_config_value("course_hub_repo", "", "html")
    app.add_config_value("course_hub_branch", "main", "html")
    app.add_config_value("course_hub_targetpath", "", "html")
    app.add_config_value("course_hub_pages", ["labs/student/*"], "html")
    app.connect("config-inited", check_config)
    app.connect("html-page-context", add_button)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
