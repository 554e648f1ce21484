"""``rnnkit serve RUN [RUN ...]``: trained runs behind a small JSON API and a web page to try them.

FastAPI + uvicorn (``pip install rnnkit[serve]``), imported only when a server is built. One endpoint per task,
each calling the task's public inference (``generate``, ``predict``, ``translate``, ``attention``):
``POST /generate`` (lm, streams the tokens), ``/classify``, ``/tag``, ``/translate``, ``/forecast``, ``/predict``
(any other task, its ``predict`` lines); ``GET /health``, ``/models``, ``/`` (the page) and ``/states`` (the
hidden-state view of ``rnnkit explain states`` for a language model). ``rnnkit.serve.app`` builds the app,
``rnnkit.serve.endpoints`` holds the per-task request/response code.
"""

from __future__ import annotations

from rnnkit.serve.limits import INSTALL_HINT, Limits, ServeError, require_serve

__all__ = ["INSTALL_HINT", "Limits", "ServeError", "build_app", "load_runs", "run_server", "require_serve"]


def __getattr__(name: str):  # the FastAPI part is imported on first use only (the [serve] extra)
    if name in ("build_app", "load_runs", "run_server"):
        from rnnkit.serve import app

        return getattr(app, name)
    raise AttributeError(name)
