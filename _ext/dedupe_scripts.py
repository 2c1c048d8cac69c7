"""Sphinx extension: drop repeated inline scripts from each page.

sphinx-thebe adds its configuration (``const THEBE_JS_URL = ...``) once per
``env-before-read-docs`` event, which Jupyter Book fires more than once, so
pages declared the same ``const`` twice and the browser logged
"Identifier 'THEBE_JS_URL' has already been declared".
The thebe script itself is never loaded (launch_buttons.thebe is off).
"""


def _drop_repeated_scripts(app, pagename, templatename, context, doctree):
    seen = set()
    unique = []
    for script in context.get("script_files", []):
        # The same inline script arrives once with filename None and once with "".
        key = (getattr(script, "filename", script) or "", tuple(sorted(getattr(script, "attributes", {}).items())))
        if key in seen:
            continue
        seen.add(key)
        unique.append(script)
    context["script_files"] = unique


def setup(app):
    app.connect("html-page-context", _drop_repeated_scripts)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
