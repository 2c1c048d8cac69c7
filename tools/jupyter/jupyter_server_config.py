"""JupyterLab settings for the course (`make lab` sets JUPYTER_CONFIG_DIR here).

custom/custom.css beside this file lays Persian markdown out right-to-left;
the Vazirmatn font it names is served from the npm package.
"""
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
c = get_config()  # noqa: F821 (provided by Jupyter when it loads this file)
c.ServerApp.extra_static_paths = [str(ROOT / "node_modules" / "vazirmatn" / "fonts" / "webfonts")]
c.ServerApp.root_dir = str(ROOT)
c.LabApp.custom_css = True
