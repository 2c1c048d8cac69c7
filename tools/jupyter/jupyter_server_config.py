"""JupyterLab settings for the course (`make lab` sets JUPYTER_CONFIG_DIR here).

- custom/custom.css beside this file: Persian markdown and outputs right-to-left in Vazirmatn
  (served from the npm package through ``extra_static_paths``), code left-to-right, a visible
  Persian label on locked cells.
- labconfig/page_config.json: the "get notified about Jupyter news?" popup and the update check
  (the announcements plugin) are off; the course runs offline.
- A student's own JupyterLab settings and workspaces stay in ~/.jupyter/lab, not in the repository.
"""
import os
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)
c.ServerApp.extra_static_paths = [str(ROOT / "node_modules" / "vazirmatn" / "fonts" / "webfonts")]
c.ServerApp.root_dir = str(ROOT)
c.LabApp.custom_css = True
c.LabApp.news_url = None
c.LabApp.check_for_updates_class = "jupyterlab.NeverCheckForUpdate"
c.LabApp.user_settings_dir = str(Path.home() / ".jupyter" / "lab" / "user-settings")
if not os.environ.get("JUPYTERLAB_WORKSPACES_DIR"):
    c.LabApp.workspaces_dir = str(Path.home() / ".jupyter" / "lab" / "workspaces")
