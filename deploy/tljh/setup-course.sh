#!/bin/bash
# The course environment on The Littlest JupyterHub (TLJH 2.x), run once as root on the hub server
# after TLJH is installed (deploy/README.md, «The Littlest JupyterHub»):
#
#   sudo bash deploy/tljh/setup-course.sh https://git.example.ac.ir/dl-fa/book.git main
#
# TLJH's user environment (/opt/tljh/user) runs JupyterLab; its Python is whatever TLJH's
# Miniforge ships, while the course needs Python 3.11 (pyproject.toml). So the course gets its
# own environment, /opt/tljh/course, installed from requirements.txt (the one package list), and
# becomes the default "python3" kernel of every student. Not runnable in the course's test
# environment (needs root on a TLJH server and the internet); tests/test_hub_deploy.py checks it
# statically and tests/test_hub.py runs the same software on a local hub.
set -euo pipefail
REPO="${1:?usage: setup-course.sh <course git URL> [branch]}"
BRANCH="${2:-main}"
USER_ENV=/opt/tljh/user
COURSE_ENV=/opt/tljh/course
SRC=/opt/tljh/course-src
COURSE_JUPYTER=/opt/tljh/course-jupyter

# 1. the course's sources (helpers, requirements.txt, package-lock.json, JupyterLab settings)
if [ -d "$SRC/.git" ]; then git -C "$SRC" pull --ff-only; else git clone --branch "$BRANCH" "$REPO" "$SRC"; fi

# 2. Python 3.11 with the course's packages, then helpers itself (not editable)
"$USER_ENV/bin/conda" create -y -p "$COURSE_ENV" python=3.11
"$COURSE_ENV/bin/pip" install --no-cache-dir --extra-index-url https://download.pytorch.org/whl/cpu -r "$SRC/requirements.txt"
"$COURSE_ENV/bin/pip" install --no-cache-dir --no-deps "$SRC"

# 3. that environment as every student's default kernel ("python3", the labs' kernel name)
"$COURSE_ENV/bin/python" -m ipykernel install --prefix "$USER_ENV" --name python3 --display-name "Python 3 (درس یادگیری عمیق)"

# 4. nbgitpuller in the user environment (the server side), the same version as requirements.txt
"$USER_ENV/bin/pip" install --no-cache-dir "$(grep -E '^nbgitpuller==' "$SRC/requirements.txt")"

# 5. right-to-left JupyterLab: custom.css and the Vazirmatn font (npm, package-lock.json)
(cd "$SRC" && npm ci --no-audit --no-fund --loglevel=error)
mkdir -p "$COURSE_JUPYTER/custom" "$COURSE_JUPYTER/static"
cp "$SRC/tools/jupyter/custom/custom.css" "$COURSE_JUPYTER/custom/custom.css"
cp "$SRC"/node_modules/vazirmatn/fonts/webfonts/*.woff2 "$COURSE_JUPYTER/static/"
cat > "$COURSE_JUPYTER/jupyter_server_config.py" <<PY
c = get_config()  # noqa: F821
c.ServerApp.extra_static_paths = ["$COURSE_JUPYTER/static"]
c.LabApp.custom_css = True
PY

# 6. the hub side: environment of every student's server (deploy/tljh/jupyterhub_config.d/)
install -D -m 0644 "$SRC/deploy/tljh/jupyterhub_config.d/dlfa.py" /opt/tljh/config/jupyterhub_config.d/dlfa.py
echo "done: now run the tljh-config commands of deploy/README.md, then: tljh-config reload"
