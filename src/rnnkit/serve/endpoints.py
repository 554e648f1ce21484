"""One endpoint per task: its request body (pydantic, strict types, unknown fields refused) and a plain function
``run(task, body, limits) -> JSON`` that calls the task's public inference. The functions are synchronous: the app
runs them in a worker thread, at most ``Limits.workers`` at once."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from rnnkit.serve.limits import BadInput, Limits


class Body(BaseModel):
    """Fields every request may carry: ``model`` picks a run when several of the endpoint's task are loaded."""

    model_config = ConfigDict(extra="forbid", strict=True)
    model: str | None = Field(None, description="the run's name (GET /models); optional when only one fits")


class GenerateBody(Body):
    prompt: str = Field("", description="text to continue; empty: start from a line break")
    length: int = Field(200, description="tokens to generate")
    temperature: float = Field(1.0, description="softmax temperature; 0 = greedy")
    top_k: int | None = Field(None, description="sample from the k most probable tokens only")
    seed: int | None = Field(None, description="fixes the sampled text")
    stream: bool = Field(True, description="true: text/plain streamed token by token; false: one JSON answer")


class ClassifyBody(Body):
    inputs: list[str] | list[list[list[float]]] = Field(description="texts, or (T, D) series for a numeric model")
    k: int = Field(3, description="top classes listed per input, at most all (probs always holds every class)")


class TagBody(Body):
    inputs: list[str] = Field(description="sentences, tokens separated by spaces")


class TranslateBody(Body):
    inputs: list[str] = Field(description="source sentences")
    beam: int | None = Field(None, description="beam width; default: the run's (1 = greedy)")
    attention: bool = Field(False, description="also return each sentence's attention (greedy decoding)")


class ForecastBody(Body):
    csv: str | None = Field(None, description="a CSV with the run's columns to forecast after; none: the run's own")
    history: int = Field(96, description="points of history returned with the forecast (for a plot)")


class PredictBody(Body):
    inputs: list[str] = Field(description="inputs as `rnnkit <task> predict` reads them, one per item")


@dataclass(frozen=True)
class Endpoint:
    """A POST route: the tasks it serves, its body type and what it does."""

    path: str
    tasks: tuple[str, ...]
    body: type[Body]
    run: Callable[[Any, Any, Limits], Any]
    summary: str


def _check_range(field: str, value: int | float | None, lo: float, hi: float) -> None:
    if value is not None and not lo <= value <= hi:
        raise BadInput(field, f"must be in [{lo:g}, {hi:g}], got {value}")


def start_generation(task: Any, body: GenerateBody, limits: Limits) -> tuple[str, Iterator[str]]:
    """Check the request and produce the first token now (so a bad prompt is a 4xx, not a broken stream); returns
    (first piece, the rest). The model runs only when the iterator is advanced."""
    _check_range("length", body.length, 1, limits.max_tokens)
    _check_range("temperature", body.temperature, 0, 100)
    _check_range("top_k", body.top_k, 1, 1_000_000)
    if len(body.prompt) > limits.max_chars:
        raise BadInput("prompt", f"has {len(body.prompt)} characters; at most {limits.max_chars}")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # characters outside the vocabulary are read as <unk>, as on the CLI
        it = iter(
            task.generate(
                body.prompt, length=body.length, temperature=body.temperature, top_k=body.top_k, seed=body.seed
            )
        )
        try:
            first = next(it)
        except StopIteration:
            first = ""
        except ValueError as e:
            raise BadInput("prompt", str(e), status=400) from None
    return first, it


def classify(task: Any, body: ClassifyBody, limits: Limits) -> dict[str, Any]:
    """Every class's probability per input, the top ``k`` first, and attention weights when the model pools by it."""
    limits.check_texts(body.inputs)
    numeric = task.config.model.input == "numeric"
    if numeric != (not isinstance(body.inputs[0], str)):
        want = "(T, D) series: lists of rows of numbers" if numeric else "texts (strings)"
        raise BadInput("inputs", f"this model ({task.config.model.input} input) takes {want}")
    _check_range("k", body.k, 1, 1_000_000)  # more than the classes: all of them, as Classifier.predict
    inputs = [np.asarray(x, dtype=np.float32) for x in body.inputs] if numeric else body.inputs
    probs, _ = task.predict_proba(inputs)
    out = []
    for i, (x, p) in enumerate(zip(body.inputs, probs, strict=True)):
        order = np.argsort(-p)
        r: dict[str, Any] = {
            "input": x if isinstance(x, str) else f"<series T={len(x)}>",
            "top": [{"label": task.classes[j], "prob": float(p[j])} for j in order[: body.k]],
            "probs": {c: float(p[j]) for j, c in enumerate(task.classes)},
        }
        if task.config.model.pooling == "attention" and isinstance(x, str):
            toks, w = task.attention(body.inputs[i])
            r["attention"] = {"tokens": toks, "weights": [float(v) for v in w]}
        out.append(r)
    return {"results": out}


def tag(task: Any, body: TagBody, limits: Limits) -> dict[str, Any]:
    """(token, tag) per token, and the entities when the tags are IOB."""
    from rnnkit.data import iob

    limits.check_texts(body.inputs)
    spans = iob.is_iob(task.tags)
    out = []
    for sent in task.predict(body.inputs):
        toks, tags = [w for w, _ in sent], [t for _, t in sent]
        r: dict[str, Any] = {"tokens": toks, "tags": tags}
        if spans:
            r["entities"] = [
                {"type": ty, "start": a, "end": b, "text": " ".join(toks[a:b])} for ty, a, b in iob.spans(tags)
            ]
        out.append(r)
    return {"results": out, "tagset": list(task.tags)}


def translate(task: Any, body: TranslateBody, limits: Limits) -> dict[str, Any]:
    """Translations in input order; with ``attention``, each sentence's greedy attention (target x source)."""
    limits.check_texts(body.inputs)
    _check_range("beam", body.beam, 1, limits.max_beam)
    try:
        outs = task.translate(body.inputs, beam_size=body.beam)
    except ValueError as e:  # "sentence 2 ('...') is empty after the tokenizer"
        raise BadInput("inputs", str(e), status=400) from None
    results: list[dict[str, Any]] = [{"input": s, "translation": t} for s, t in zip(body.inputs, outs, strict=True)]
    if body.attention:
        for r in results:
            src, tgt, w = task.attention(r["input"])
            r["attention"] = {"source": src, "target": tgt, "weights": w.cpu().double().numpy().round(4).tolist()}
    return {"results": results}


def forecast(task: Any, body: ForecastBody, limits: Limits) -> dict[str, Any]:
    """The next horizon after the run's series (or the CSV sent), with the last ``history`` points for a plot."""
    _check_range("history", body.history, 0, 100_000)
    path = None
    if body.csv is not None:
        if not body.csv.strip():
            raise BadInput("csv", "is empty: send the CSV text (header + rows), or leave csv out for the run's series")
        if len(body.csv.encode()) > limits.max_csv_bytes:
            raise BadInput("csv", f"is {len(body.csv.encode()):,} bytes; at most {limits.max_csv_bytes:,}")
        fd, path = tempfile.mkstemp(suffix=".csv", prefix="rnnkit-serve-")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(body.csv)
    try:
        try:
            series = task._series_arg(path)  # the run's reading rules and column check (DataError -> 400)
            df = task.predict(series)
        except (ValueError, KeyError) as e:
            if path is None:  # the run's own series could not be read (its data root is missing, ...)
                raise BadInput("", f"the run's own series: {e}", status=400) from None
            raise BadInput("csv", str(e).replace(f"{path}: ", "").replace(str(path), "the CSV"), status=400) from None
    finally:
        if path is not None:
            os.unlink(path)
    n = min(body.history, len(series))
    times = series.time[len(series) - n :]
    quantiles = [c for c in df.columns if c.startswith("q")]
    return {
        "targets": list(series.target_names),
        "quantiles": quantiles,
        "history": {
            "time": [str(t) for t in times],
            "values": {
                name: series.targets[len(series) - n :, c].astype(float).tolist()
                for c, name in enumerate(series.target_names)
            },
        },
        "forecast": [
            {k: (str(v) if k == "time" else v) for k, v in row.items()}
            for row in df.astype({c: float for c in ["forecast", *quantiles]}).to_dict("records")
        ],
    }


def predict(task: Any, body: PredictBody, limits: Limits) -> dict[str, Any]:
    """Any other task: the lines its ``predict`` prints, as `rnnkit <task> predict` would."""
    from rnnkit.tasks import task_info

    limits.check_texts(body.inputs)
    cli = task_info(task.name).load_cli()
    try:
        return {"lines": list(cli.predict_lines(task, body.inputs))}
    except ValueError as e:
        raise BadInput("inputs", str(e), status=400) from None


ENDPOINTS = (
    Endpoint("/classify", ("classify",), ClassifyBody, classify, "Class probabilities per input."),
    Endpoint("/tag", ("tag",), TagBody, tag, "A tag per token (and entities for IOB tags)."),
    Endpoint("/translate", ("translate",), TranslateBody, translate, "Translations (and attention)."),
    Endpoint("/forecast", ("forecast",), ForecastBody, forecast, "The next horizon steps, with history."),
)
DEDICATED = {"lm", *(t for e in ENDPOINTS for t in e.tasks)}  # other tasks answer on POST /predict
