"""The Littlest JupyterHub: extra hub settings for the course (installed by setup-course.sh into
/opt/tljh/config/jupyterhub_config.d/, which TLJH loads after its own configuration)."""
c = get_config()  # noqa: F821

c.Spawner.environment.update({
    # the course's JupyterLab settings (right-to-left Persian markdown), written by setup-course.sh
    "JUPYTER_CONFIG_DIR": "/opt/tljh/course-jupyter",
    # one CPU thread per kernel, as limits.cpu 1 assumes
    "OMP_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "NBGITPULLER_APP": "lab",
})
c.Spawner.default_url = "/lab"
# 100 students pressing "start" together: a server may take a while on a busy machine
c.Spawner.start_timeout = 300
c.Spawner.http_timeout = 300
