"""Voilà as the review app runs it: ``python -m relief_kit.shell.voila_app ARGS`` is
``voila ARGS`` with one addition, a pre-launch hook that gives each page its XSRF cookie.

Why: Voilà's page shuts its own kernel down when it goes away (reload, closed tab,
another page of the app): on ``beforeunload`` it posts ``/voila/api/shutdown/<kernel>``
with ``navigator.sendBeacon``, the ``_xsrf`` form field copied from the ``_xsrf`` cookie.
Voilà (0.5.x) never sets that cookie, so with token authentication every such post is
refused ("403 '_xsrf' argument missing from POST", voila-dashboards/voila#1458, open) and
every page load leaves its kernel running until the culler finds it. Reading
``handler.xsrf_token`` while the page is being served makes Tornado set the cookie; the
beacon then carries a matching token and the kernel stops as the page goes. The XSRF
check stays on (turning it off would let any web site the analyst visits post to the
app), and the hook is the place Voilà documents for touching the request
(``VoilaConfiguration.prelaunch_hook``, which can only be set from Python, hence this
module). Kernels of pages that never say goodbye are still culled (see ``launch``).
"""

from __future__ import annotations

import sys


def give_xsrf_cookie(handler, notebook=None, cwd=None):
    """Voilà pre-launch hook: make the page's response set the ``_xsrf`` cookie (the one
    Voilà's shutdown beacon reads). Returns ``None``: the notebook is left as it is."""
    handler.xsrf_token  # noqa: B018 - Tornado sets the cookie when the token is read
    return None


def app_config():
    """The traitlets configuration the app adds to its command line: the hook, and
    ``voila.py``/``voila.json`` looked for only in Jupyter's configuration folders.

    Voilà's default search path starts with the working directory, so a ``voila.py``
    lying in whatever folder ``relief-kit review`` was started from would be executed
    as Python by the server that holds the case store's data."""
    from jupyter_core.paths import jupyter_config_path
    from traitlets.config import Config

    config = Config()
    config.VoilaConfiguration.prelaunch_hook = give_xsrf_cookie
    config.Voila.config_file_paths = list(jupyter_config_path())
    return config


def main(argv: list[str] | None = None) -> None:
    """Run Voilà with ``argv`` (default: this process's arguments) and the hook."""
    from voila.app import Voila

    Voila.launch_instance(argv=sys.argv[1:] if argv is None else argv, config=app_config())


if __name__ == "__main__":
    main()
