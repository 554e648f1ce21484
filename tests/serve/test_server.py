"""`rnnkit serve` as a user runs it: a uvicorn subprocess on 127.0.0.1 (a free port), driven over HTTP and by a real
headless Chromium (Selenium + Debian's chromedriver) typing into the page; 50 requests at once all answered."""

from __future__ import annotations

import json
import urllib.request

import pytest

from rnnkit.serve.loadtest import fire
from tests.browser import headless_chromium

pytestmark = [pytest.mark.xdist_group(name="serve"), pytest.mark.slow]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=60) as r:
        return json.loads(r.read())


def test_the_cli_server_answers_and_listens_on_loopback(server):
    assert server.startswith("http://127.0.0.1:")
    assert _get(server + "/health")["status"] == "ok"
    assert {m["task"] for m in _get(server + "/models")["models"]} == {"lm", "classify", "tag", "translate", "forecast"}


def test_fifty_concurrent_requests_all_succeed(server):
    """A bounded load test: 50 requests released at once over five endpoints (2 workers, the rest queued)."""
    kinds = [
        ("/classify", {"inputs": ["good fun film"]}),
        ("/tag", {"inputs": ["Juan vive en Madrid ."]}),
        ("/translate", {"inputs": ["I am here ."]}),
        ("/forecast", {}),
        ("/generate", {"prompt": "to be", "length": 20, "stream": False}),
    ]
    res = fire(server, [kinds[i % len(kinds)] for i in range(50)])
    assert res.ok == 50, [r for r in res.requests if r[1] != 200]
    p = res.percentiles()
    assert 0 < p["p50"] <= p["p95"] <= p["max"]
    assert _get(server + "/health")["in_progress"] == 0  # every request finished and released the gate


def _submit(browser, name: str, text: str, *, timeout: float = 60) -> object:
    """Type ``text`` into the model's card, click its button, wait until the result is shown; the card element."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    card = browser.find_element(By.ID, f"model-{name}")
    box = card.find_element(By.CLASS_NAME, "input")
    box.clear()
    if text:
        box.send_keys(text)
    card.find_element(By.CLASS_NAME, "go").click()
    out = card.find_element(By.CLASS_NAME, "out")
    WebDriverWait(browser, timeout).until(lambda _: out.get_attribute("data-state") in ("done", "error"))
    return card


def test_the_page_in_a_real_browser(server, runs, tmp_path):
    """What a person sees: generated text, class bars, coloured tags, a translation with its attention map, a
    forecast plot, and an error message for an empty input; a screenshot of the page and of /states."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    from rnnkit.tasks.base import load_any

    with headless_chromium() as browser:
        browser.get(server + "/")
        WebDriverWait(browser, 60).until(lambda b: b.execute_script("return document.body.dataset.ready") == "true")
        assert len(browser.find_elements(By.CSS_SELECTOR, "section.model")) == 5

        card = browser.find_element(By.ID, "model-lm")
        length = card.find_element(By.CLASS_NAME, "opt-length")
        length.clear()
        length.send_keys("40")
        card = _submit(browser, "lm", "to be")
        assert card.find_element(By.CLASS_NAME, "error").text == ""
        generated = card.find_element(By.CLASS_NAME, "generated").get_attribute("textContent")
        assert len(generated) == 40  # char level: 40 tokens streamed into the page
        states_url = card.find_element(By.CLASS_NAME, "states").get_attribute("href")

        card = _submit(browser, "classify", "good fun")
        bars = card.find_elements(By.CSS_SELECTOR, ".bar")
        assert sorted(b.find_element(By.CLASS_NAME, "label").text for b in bars) == ["neg", "pos"]
        probs = [float(b.find_element(By.CLASS_NAME, "p").text) for b in bars]
        widths = [b.find_element(By.CLASS_NAME, "fill").size["width"] for b in bars]
        track = bars[0].find_element(By.CLASS_NAME, "track").size["width"]
        assert sum(probs) == pytest.approx(1, abs=2e-3) and probs == sorted(probs, reverse=True)
        assert [w / track for w in widths] == pytest.approx(probs, abs=0.02)  # the bars are drawn to scale
        toks, _ = load_any(runs["classify"]).attention("good fun")
        assert [t.text for t in card.find_elements(By.CSS_SELECTOR, ".attention .tok")] == [t.strip() for t in toks]

        card = _submit(browser, "tag", "Juan vive en Madrid .")
        toks = card.find_elements(By.CSS_SELECTOR, ".tagged .tok")
        want = load_any(runs["tag"]).predict(["Juan vive en Madrid ."])[0]
        assert [t.get_attribute("data-tag") for t in toks] == [t for _, t in want]
        colours = {t.get_attribute("data-tag"): t.value_of_css_property("background-color") for t in toks}
        assert len(set(colours.values())) == len(colours)  # one colour per tag

        card = _submit(browser, "translate", "you are here .")
        want = load_any(runs["translate"]).translate(["you are here ."])[0]
        assert card.find_element(By.CLASS_NAME, "translation").text == want
        rows = card.find_elements(By.CSS_SELECTOR, "table.heat tr")
        assert len(rows) >= 2 and len(rows[0].find_elements(By.TAG_NAME, "th")) == 1 + 5  # 4 tokens + <eos>

        card = _submit(browser, "forecast", "")
        assert card.find_element(By.CSS_SELECTOR, "svg.plot path.forecast").get_attribute("d").startswith("M")
        horizon = load_any(runs["forecast"]).config.data.horizon
        assert len(card.find_element(By.CSS_SELECTOR, "pre.values").text.splitlines()) == horizon
        browser.save_screenshot(str(tmp_path / "page.png"))

        card = _submit(browser, "classify", "")  # a person submits nothing: told what is wrong, page still works
        assert card.find_element(By.CLASS_NAME, "error").text == "inputs[0]: is empty: give some text"
        card = _submit(browser, "classify", "bad plot")
        assert card.find_element(By.CLASS_NAME, "error").text == "" and card.find_elements(By.CSS_SELECTOR, ".bar")

        browser.get(states_url)
        spans = browser.find_elements(By.CSS_SELECTOR, "div.text span.c")
        assert len(spans) >= len("to be" + generated)  # one coloured span per character, per block
        browser.save_screenshot(str(tmp_path / "states.png"))
    assert (tmp_path / "page.png").stat().st_size > 10_000 and (tmp_path / "states.png").stat().st_size > 5_000
