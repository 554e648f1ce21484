"""`rnnkit serve`'s JSON API, in-process through FastAPI's TestClient, on tiny trained runs of five tasks: each
endpoint answers with what the task's own public inference gives, and bad requests get a 4xx naming the field while
the server keeps answering."""

from __future__ import annotations

import json
import sys
import warnings

import numpy as np
import pytest

from rnnkit.tasks import task_info

with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # starlette 1.x suggests httpx2 for its TestClient; httpx is what we pin
    from fastapi.testclient import TestClient

from rnnkit.serve import Limits, ServeError
from rnnkit.serve.app import build_app, load_runs
from rnnkit.tasks.base import load_any

pytestmark = pytest.mark.xdist_group(name="serve")


@pytest.fixture(scope="module")
def served(runs):
    return load_runs(runs.values())


@pytest.fixture(scope="module")
def client(served):
    with TestClient(build_app(served, limits=Limits(max_batch=4, max_chars=50))) as c:
        yield c


def test_health_and_models(client, runs):
    assert client.get("/health").json() == {"status": "ok", "models": 5, "in_progress": 0}
    models = {m["task"]: m for m in client.get("/models").json()["models"]}
    assert set(models) == set(runs)
    assert models["lm"]["endpoint"] == "/generate" and models["classify"]["labels"] == ["neg", "pos"]
    assert models["tag"]["endpoint"] == "/tag" and "B-PER" in models["tag"]["tags"]
    assert models["forecast"]["horizon"] == load_any(runs["forecast"]).config.data.horizon
    assert all(m["weights"].startswith(("best", "last")) for m in models.values())


def test_generate_streams_the_tasks_own_text(client, runs):
    lm = load_any(runs["lm"])
    want = "".join(lm.generate("to be", length=30, temperature=0.8, seed=3))
    body = {"prompt": "to be", "length": 30, "temperature": 0.8, "seed": 3}
    with client.stream("POST", "/generate", json=body) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
        pieces = list(r.iter_text())
    assert "".join(pieces) == want and len(want) == 30  # char level: one character per token
    r = client.post("/generate", json={**body, "stream": False})
    assert r.json() == {"model": "lm", "prompt": "to be", "text": want}


def test_classify_tag_translate_match_predict(client, runs):
    clf, tagger, tr = (load_any(runs[t]) for t in ("classify", "tag", "translate"))
    assert len(client.post("/classify", json={"inputs": ["good"], "k": 5}).json()["results"][0]["top"]) == 2
    r = client.post("/classify", json={"inputs": ["good fun", "bad plot"], "k": 1}).json()
    assert r["model"] == "classify" and len(r["results"]) == 2
    for res, want in zip(r["results"], clf.predict(["good fun", "bad plot"], k=2), strict=True):
        assert [(t["label"], pytest.approx(t["prob"], abs=1e-6)) for t in res["top"]] == [want[0]]
        assert sum(res["probs"].values()) == pytest.approx(1.0)
        toks, w = clf.attention(res["input"])
        assert res["attention"]["tokens"] == toks and np.allclose(res["attention"]["weights"], w)

    r = client.post("/tag", json={"inputs": ["Juan vive en Roma ."]}).json()["results"][0]
    assert list(zip(r["tokens"], r["tags"], strict=True)) == tagger.predict(["Juan vive en Roma ."])[0]
    assert all({"type", "start", "end", "text"} == set(e) for e in r["entities"])

    r = client.post("/translate", json={"inputs": ["I am here .", "you are tired ."], "attention": True}).json()
    assert [x["translation"] for x in r["results"]] == tr.translate(["I am here .", "you are tired ."])
    att = r["results"][0]["attention"]
    src, tgt, w = tr.attention("I am here .")
    assert att["source"] == src and att["target"] == tgt and np.allclose(att["weights"], w.numpy(), atol=1e-4)
    assert np.allclose(np.sum(att["weights"], axis=1), 1, atol=1e-3)  # each output step's weights sum to 1


def test_forecast_of_the_runs_series_and_of_a_csv(client, runs):
    fc = load_any(runs["forecast"])
    r = client.post("/forecast", json={"history": 24}).json()
    want = fc.predict()
    assert [x["forecast"] for x in r["forecast"]] == pytest.approx(want["forecast"].tolist(), abs=1e-9)
    assert r["quantiles"] and all(x[r["quantiles"][0]] <= x["forecast"] <= x[r["quantiles"][-1]] for x in r["forecast"])
    assert len(r["history"]["time"]) == 24 and r["history"]["time"][-1].startswith("2009-12-01")
    csv = "month,value\n" + "".join(f"{2000 + i // 12}-{i % 12 + 1:02d}-01,{5 + (i % 12) / 10}\n" for i in range(60))
    r2 = client.post("/forecast", json={"csv": csv}).json()
    assert r2["history"]["time"][-1].startswith("2004-12-01") and r2["forecast"] != r["forecast"]
    bad = client.post("/forecast", json={"csv": "when,other\n2000-01-01,1\n"})
    assert bad.status_code == 400 and bad.json()["field"] == "csv"
    assert bad.json()["error"] == "csv: no column 'month'; columns are when, other"  # the temp file's name not shown


def test_states_page_of_a_language_model(client):
    r = client.get("/states", params={"text": "to be or not"})
    assert r.status_code == 200 and r.text.count('class="c"') >= len("to be or not")
    assert client.get("/states", params={"text": "to be", "model": "classify"}).status_code == 422


@pytest.mark.parametrize(
    ("path", "body", "status", "field", "says"),
    [
        ("/classify", {"inputs": []}, 422, "inputs", "is empty"),
        ("/classify", {"inputs": ["  "]}, 422, "inputs[0]", "is empty"),
        ("/classify", {"inputs": ["a" * 51]}, 422, "inputs[0]", "51 characters; at most 50"),
        ("/classify", {"inputs": ["good"] * 5}, 422, "inputs", "5 inputs; at most 4"),
        ("/classify", {"inputs": "good fun"}, 422, "inputs", "valid list"),
        ("/classify", {"inputs": [3]}, 422, "inputs[0]", "string"),
        ("/classify", {"inputs": [[[1.0, 2.0]]]}, 422, "inputs", "this model (char input) takes texts"),
        ("/classify", {"inputs": [[]]}, 422, "inputs[0]", "has 0 steps; give 1 to 50"),
        ("/classify", {"inputs": ["good"], "k": 0}, 422, "k", "must be in [1, 1e+06]"),
        ("/classify", {"inputs": ["good"], "kk": 1}, 422, "kk", "Extra inputs are not permitted"),
        ("/classify", {"texts": ["good"]}, 422, "inputs", "Field required"),
        ("/classify", {"inputs": ["good"], "model": "nope"}, 404, "model", "no model named 'nope'"),
        ("/classify", {"inputs": ["good"], "model": "tag"}, 422, "model", "'tag' is a tag model: send it to /tag"),
        ("/generate", {"prompt": "to", "length": 0}, 422, "length", "must be in [1, 2000]"),
        ("/generate", {"prompt": "to", "length": "20"}, 422, "length", "valid integer"),
        ("/generate", {"prompt": "to", "temperature": -1}, 422, "temperature", "must be in [0, 100]"),
        ("/translate", {"inputs": ["I am"], "beam": 99}, 422, "beam", "must be in [1, 10]"),
        ("/translate", {"inputs": ["I am"], "attention": "yes"}, 422, "attention", "valid boolean"),
        ("/forecast", {"csv": ""}, 422, "csv", "is empty"),
        ("/predict", {"inputs": ["x"]}, 404, None, "no /predict model is loaded"),
    ],
)
def test_bad_requests_get_4xx_naming_the_field_and_the_server_keeps_serving(client, path, body, status, field, says):
    r = client.post(path, json=body)
    assert r.status_code == status, r.text
    assert r.json()["field"] == field and says in r.json()["error"]
    assert client.post("/tag", json={"inputs": ["Ana ama Roma"]}).status_code == 200


def test_not_json_and_several_models_of_one_task(client, served, runs):
    r = client.post("/tag", content=b"{not json", headers={"content-type": "application/json"})
    assert r.status_code == 422 and "JSON" in r.json()["error"]
    two = load_runs([runs["tag"], runs["tag"]])
    assert [s.name for s in two] == ["tag", "tag-2"]
    with TestClient(build_app(two)) as c:
        r = c.post("/tag", json={"inputs": ["Ana"]})
        assert r.status_code == 422 and r.json()["field"] == "model" and "tag, tag-2" in r.json()["error"]
        assert c.post("/tag", json={"inputs": ["Ana"], "model": "tag-2"}).status_code == 200
        assert c.post("/classify", json={"inputs": ["x"]}).json()["error"].startswith("no classify model is loaded")


def test_a_full_queue_gets_503_at_once():
    """workers=1, queue=0: while one call runs, the next request is refused at once (not queued without bound)."""
    import threading

    import anyio

    from rnnkit.serve.app import Gate
    from rnnkit.serve.limits import BadInput

    gate, release, started = Gate(Limits(workers=1, queue=0)), threading.Event(), threading.Event()

    def busy() -> None:
        started.set()
        release.wait(10)

    async def main() -> None:
        async with anyio.create_task_group() as tg:
            tg.start_soon(gate.run, busy)
            await anyio.to_thread.run_sync(started.wait, 10)
            with pytest.raises(BadInput, match="the server is busy") as e:
                await gate.run(lambda: None)
            assert e.value.status == 503
            release.set()
        assert await gate.run(lambda: 7) == 7 and gate.pending == 0  # and it serves again

    anyio.run(main)


def test_load_runs_refuses_nothing_and_non_runs(tmp_path):
    with pytest.raises(ServeError, match="no runs to serve"):
        load_runs([])
    with pytest.raises(ValueError, match="not a run folder"):
        load_runs([tmp_path])
    assert json.loads(json.dumps(Limits().__dict__))["max_batch"] == 32


def test_serve_command_refusals_are_one_line(runs, tmp_path, monkeypatch):
    import socket

    from typer.testing import CliRunner

    from rnnkit.cli import app

    r = CliRunner().invoke(app, ["serve", str(tmp_path)])
    assert r.exit_code == 1 and "is not a run folder" in r.output and "Traceback" not in r.output
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        r = CliRunner().invoke(app, ["serve", str(runs["tag"]), "--port", str(port)])
    assert r.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in r.output and "--port" in r.output
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn -> ImportError
    r = CliRunner().invoke(app, ["serve", str(runs["tag"])])
    assert r.exit_code == 1 and "pip install rnnkit[serve]" in r.output and "Traceback" not in r.output


def test_other_tasks_answer_on_predict(runs, tmp_path):
    """A task without its own endpoint (music) answers POST /predict with its `predict` lines."""
    from tests.music.test_music import roll, write_mat

    pieces = [roll(6 + i, i) for i in range(6)]
    write_mat(tmp_path / "m.mat", traindata=pieces, validdata=pieces[:2], testdata=pieces[2:4])
    from rnnkit.tasks.music.task import MusicModel

    MusicModel.from_options(
        data=str(tmp_path / "m.mat"), out=str(tmp_path / "music"), hidden=4, epochs=1, overrides={"train.quiet": True}
    ).fit_and_test()
    served = load_runs([runs["tag"], tmp_path / "music"])
    with TestClient(build_app(served)) as c:
        r = c.post("/predict", json={"inputs": ["60,64,67 62,65,69"]})
        assert r.status_code == 200 and r.json()["lines"] == list(
            task_info("music").load_cli().predict_lines(load_any(tmp_path / "music"), ["60,64,67 62,65,69"])
        )
        bad = c.post("/predict", json={"inputs": ["60,64,999"]})
        assert bad.status_code == 400 and "outside the piano" in bad.json()["error"]
        assert c.get("/models").json()["models"][1]["endpoint"] == "/predict"
