"""The FastAPI app around loaded runs: routes, the gate that bounds concurrent work, errors as JSON, uvicorn.

No ``from __future__ import annotations`` here: FastAPI reads the request-body types from the handlers'
annotations at run time."""

import os
import socket
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from starlette.concurrency import run_in_threadpool

from rnnkit.serve import endpoints as E
from rnnkit.serve.limits import BadInput, Limits, ServeError


@dataclass
class Served:
    """A loaded run: its name in the API (the folder's name, made unique), its folder and its Task."""

    name: str
    run: Path
    task: Any

    @property
    def endpoint(self) -> str:
        if self.task.name == "lm":
            return "/generate"
        return next((e.path for e in E.ENDPOINTS if self.task.name in e.tasks), "/predict")

    def info(self) -> dict[str, Any]:
        """What /models says about the run (and what the page needs to draw its form)."""
        t, m = self.task, self.task.config.model
        d: dict[str, Any] = {
            "name": self.name,
            "task": t.name,
            "endpoint": self.endpoint,
            "run": str(self.run),
            "cell": m.cell.name,
            "hidden_size": m.hidden_size,
            "layers": getattr(m, "num_layers", None),
            "weights": t.describe_weights(),
        }
        if t.name == "classify":
            d.update(labels=list(t.classes), input=m.input, pooling=m.pooling)
        elif t.name == "tag":
            d.update(tags=list(t.tags))
        elif t.name == "lm":
            d.update(level=t.vocab.level, vocab_size=len(t.vocab), states=m.num_layers >= 1)
        elif t.name == "forecast":
            d.update(horizon=t.config.data.horizon, targets=list((t.columns or {}).get("target_names", [])))
        return d


def load_runs(runs: Iterable[str | os.PathLike], *, which: str = "best") -> list[Served]:
    """Load each run folder (any task) under a unique name: its folder name, then ``name-2``, ``name-3``..."""
    from rnnkit.tasks.base import load_any

    out: list[Served] = []
    seen: set[str] = set()
    for run in runs:
        p = Path(run)
        name, k = p.resolve().name or "run", 2
        while name in seen:
            name, k = f"{p.resolve().name}-{k}", k + 1
        seen.add(name)
        out.append(Served(name, p, load_any(p, which=which)))
    if not out:
        raise ServeError("no runs to serve: pass one or more run folders (the --out of `rnnkit <task> train`)")
    return out


class Gate:
    """At most ``workers`` model calls at once, at most ``queue`` waiting (then 503 at once).

    A threading semaphore taken inside the worker thread: it belongs to no event loop, so one app can be driven by
    uvicorn or by several TestClients in turn."""

    def __init__(self, limits: Limits) -> None:
        self.sem = threading.BoundedSemaphore(limits.workers)
        self.capacity = limits.workers + limits.queue
        self.pending = 0
        self.lock = threading.Lock()

    async def run(self, fn: Callable[..., Any], *args: Any, admit: bool = True) -> Any:
        """``fn(*args)`` in a worker thread under the gate; ``admit=False``: a stream already admitted goes on."""
        with self.lock:
            if admit and self.pending >= self.capacity:
                busy = f"the server is busy ({self.pending} requests in progress); retry shortly"
                raise BadInput("", busy, status=503)
            self.pending += 1
        try:
            return await run_in_threadpool(self._call, fn, args)
        finally:
            with self.lock:
                self.pending -= 1

    def _call(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> Any:
        with self.sem:
            return fn(*args)


def _field(loc: Sequence[Any]) -> str:
    """pydantic's error location ("body", "inputs", 0) as the JSON path a user wrote: ``inputs[0]``."""
    out = ""
    for part in loc[1:] if loc and loc[0] == "body" else loc:
        if isinstance(part, str) and "[" in part:  # which branch of a union failed ("list[str]"): not a field
            continue
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def build_app(served: Sequence[Served], *, limits: Limits | None = None) -> FastAPI:
    """The app: one POST endpoint per task, /health, /models, the page at / and /states (language models)."""
    limits = limits or Limits()
    gate = Gate(limits)
    by_name = {s.name: s for s in served}
    app = FastAPI(title="rnnkit serve", summary="Trained rnnkit runs: one JSON endpoint per task.")

    @app.exception_handler(BadInput)
    async def bad_input(_: Request, e: BadInput) -> JSONResponse:
        return JSONResponse({"error": str(e), "field": e.field or None}, status_code=e.status)

    @app.exception_handler(RequestValidationError)
    async def invalid(_: Request, e: RequestValidationError) -> JSONResponse:
        errs = [{"field": _field(x["loc"]), "message": x["msg"]} for x in e.errors()]
        first = errs[0] if errs else {"field": "", "message": "invalid request"}
        msg = f"{first['field']}: {first['message']}" if first["field"] else first["message"]
        return JSONResponse({"error": msg, "field": first["field"] or None, "errors": errs}, status_code=422)

    @app.exception_handler(ValueError)  # the tasks' DataError / ConfigError / ValueError: the input, said why
    async def task_error(_: Request, e: ValueError) -> JSONResponse:
        return JSONResponse({"error": str(e), "field": None}, status_code=400)

    def pick(tasks: tuple[str, ...], name: str | None, path: str) -> Served:
        if name is not None:
            s = by_name.get(name)
            if s is None:
                raise BadInput("model", f"no model named {name!r}; loaded: {', '.join(by_name)}", status=404)
            if s.task.name not in tasks:
                raise BadInput("model", f"{name!r} is a {s.task.name} model: send it to {s.endpoint}, not {path}")
            return s
        fits = [s for s in served if s.task.name in tasks]
        if not fits:
            loaded = ", ".join(f"{s.name} ({s.task.name})" for s in served)
            raise BadInput("", f"no {'/'.join(tasks) or path} model is loaded here (loaded: {loaded})", status=404)
        if len(fits) > 1:
            raise BadInput(
                "model",
                f"{len(fits)} {fits[0].task.name} models are loaded: name one of {', '.join(s.name for s in fits)}",
            )
        return fits[0]

    @app.get("/health")
    async def health() -> dict[str, Any]:
        """Liveness: ``ok`` and how many models answer, how many requests are in progress."""
        return {"status": "ok", "models": len(served), "in_progress": gate.pending}

    @app.get("/models")
    async def models() -> dict[str, Any]:
        """The loaded runs: name, task, endpoint, cell, size, which weights, labels/tags/horizon."""
        return {"models": [s.info() for s in served], "limits": limits.__dict__}

    @app.get("/", response_class=HTMLResponse)
    async def page() -> str:
        return resources.files("rnnkit.serve").joinpath("page.html").read_text(encoding="utf-8")

    @app.get("/states", response_class=HTMLResponse)
    async def states(text: str, model: str | None = None) -> str:
        """The hidden-state view of ``rnnkit explain states`` for a language model and a text."""
        s = pick(("lm",), model, "/states")
        if not text.strip() or len(text) > limits.max_chars:
            raise BadInput("text", f"give 1 to {limits.max_chars} characters, got {len(text)}")
        from rnnkit.explain.states import states_page

        return (await gate.run(states_page, s.task, text, s.name))[0]

    @app.post("/generate")
    async def generate(body: E.GenerateBody) -> Any:
        """Continue ``prompt``: streamed as text/plain, token by token (``stream: false``: one JSON answer)."""
        s = pick(("lm",), body.model, "/generate")
        first, it = await gate.run(E.start_generation, s.task, body, limits)
        if not body.stream:
            rest = await gate.run(lambda: "".join(it), admit=False)
            return {"model": s.name, "prompt": body.prompt, "text": first + rest}

        async def pieces() -> Any:
            yield first
            while (piece := await gate.run(next, it, None, admit=False)) is not None:
                yield piece

        return StreamingResponse(pieces(), media_type="text/plain; charset=utf-8", headers={"X-Model": s.name})

    def route(ep: E.Endpoint) -> None:
        async def handler(body):  # type: ignore[no-untyped-def]  # the annotation is set below, per endpoint
            s = pick(ep.tasks, body.model, ep.path)
            return {"model": s.name, **await gate.run(ep.run, s.task, body, limits)}

        handler.__annotations__ = {"body": ep.body, "return": dict[str, Any]}
        handler.__doc__ = ep.summary
        app.post(ep.path, name=ep.path.strip("/"), summary=ep.summary)(handler)

    for ep in (
        *E.ENDPOINTS,
        E.Endpoint(
            "/predict",
            tuple(sorted({s.task.name for s in served} - E.DEDICATED)),
            E.PredictBody,
            E.predict,
            "Other tasks: their `predict` lines.",
        ),
    ):
        route(ep)
    return app


def run_server(
    runs: Iterable[str | os.PathLike],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    which: str = "best",
    limits: Limits | None = None,
    log_level: str = "info",
    echo: Callable[[str], None] = print,
) -> None:
    """Load the runs and serve them with uvicorn until interrupted; ``port=0`` picks a free port (printed)."""
    import uvicorn

    served = load_runs(runs, which=which)
    app = build_app(served, limits=limits)
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as e:
        sock.close()
        why = f"cannot listen on {host}:{port} ({e.strerror})"
        raise ServeError(f"{why}: choose another --port (0: any free one)") from None
    url = f"http://{host if ':' not in host else f'[{host}]'}:{sock.getsockname()[1]}/"
    for s in served:
        echo(f"{s.name}: {s.task.name} ({s.info()['cell']}, {s.task.describe_weights()}) -> POST {s.endpoint}")
    if host not in ("127.0.0.1", "localhost", "::1"):
        echo(f"warning: listening on {host}: anyone who can reach it can use the models (there is no login)")
    echo(f"serving {len(served)} model(s) on {url}  (GET /models, /health; Ctrl-C stops)")
    server = uvicorn.Server(uvicorn.Config(app, log_level=log_level))
    server.run(sockets=[sock])


__all__ = ["Gate", "Served", "build_app", "load_runs", "run_server"]
