"""explain.states: features, correlations, the reference-engine recording, and the HTML page's structure."""

from __future__ import annotations

import html as html_lib
from html.parser import HTMLParser

import numpy as np
import pytest

from rnnkit.explain.states import (
    best_unit,
    color,
    correlations,
    explain_states,
    html_page,
    rank_units,
    record_states,
    text_features,
)

# Characters the page must escape or keep: markup, an ampersand, both quotes, a newline, a tab, non-ASCII.
TRICKY = "a<b>&\"c\"\n\t(d) 'é'  ;x"


class _Page(HTMLParser):
    """Collects the structure a valid page needs: balanced tags, and per text block its spans and text."""

    VOID = {"meta", "br", "img", "input", "link", "hr"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.errors: list[str] = []
        self.blocks: list[dict] = []
        self.doctype = False
        self._span: dict | None = None

    def handle_decl(self, decl: str) -> None:
        self.doctype = decl.lower() == "doctype html"

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag not in self.VOID:
            self.stack.append(tag)
        if tag == "div" and a.get("class") == "text":
            self.blocks.append({"spans": [], "stray": ""})
        elif tag == "span":
            if self._span is not None:
                self.errors.append("nested span")
            self._span = {"style": a.get("style", ""), "title": a.get("title"), "text": "", "cls": a.get("class")}

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unbalanced </{tag}> (open: {self.stack[-3:]})")
            return
        self.stack.pop()
        if tag == "span":
            self.blocks[-1]["spans"].append(self._span)
            self._span = None

    def handle_data(self, data):
        if self._span is not None:
            self._span["text"] += data
        elif self.blocks and self.stack and self.stack[-1] == "div":
            self.blocks[-1]["stray"] += data


def _parse(page: str) -> _Page:
    p = _Page()
    p.feed(page)
    p.close()
    assert p.doctype and not p.errors and not p.stack, (p.errors, p.stack)
    return p


def test_html_page_has_one_coloured_span_per_character():
    values = np.linspace(-1, 1, len(TRICKY))
    page = html_page(
        list(TRICKY), [("unit 3", values), ("unit 5 <b>", -values)], ranking={"is_space": [{"unit": 3, "r": 0.5}]}
    )
    p = _parse(page)
    assert len(p.blocks) == 2
    for block, vals in zip(p.blocks, (values, -values), strict=True):
        spans = block["spans"]
        assert len(spans) == len(TRICKY) and block["stray"] == ""  # nothing outside the spans
        assert "".join(s["text"] for s in spans) == TRICKY  # every character, escaped and decoded back
        assert all(len(s["text"]) == 1 and s["cls"] == "c" for s in spans)
        assert [s["style"] for s in spans] == [f"background-color:{color(v)}" for v in vals]
        np.testing.assert_allclose([float(s["title"]) for s in spans], vals, atol=5e-4)  # printed with 3 decimals
    assert "unit 5 &lt;b&gt;" in page and "<b>" not in page.replace("<body>", "")
    with pytest.raises(ValueError, match=r"block 'x' has 2 values for 3 characters"):
        html_page(list("abc"), [("x", np.zeros(2))])


def test_colours():
    assert color(0.0) == "rgb(255,255,255)"
    assert color(1.0) == "rgb(255,55,55)" and color(-1.0) == "rgb(55,55,255)" and color(7.0) == color(1.0)


def test_text_features_by_hand():
    f = text_features(list('ab "c(d)"\ne'))
    np.testing.assert_array_equal(f["position_in_line"], [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0])
    np.testing.assert_array_equal(f["inside_quotes"], [0, 0, 0, 0, 1, 1, 1, 1, 1, 0, 0])  # after the opening "
    np.testing.assert_array_equal(f["inside_parens"], [0, 0, 0, 0, 0, 0, 1, 1, 0, 0, 0])
    np.testing.assert_array_equal(f["is_space"], [0, 0, 1, 0, 0, 0, 0, 0, 0, 1, 0])
    np.testing.assert_array_equal(f["position_in_word"], [0, 1, 2, 0, 1, 2, 3, 4, 5, 6, 0])


def test_correlations_and_ranking():
    rng = np.random.default_rng(0)
    feat = rng.standard_normal(50)
    V = rng.standard_normal((50, 4))
    V[:, 2] = -3 * feat + 0.1 * V[:, 2]  # unit 2 anti-tracks the feature
    V[:, 3] = 1.0  # a constant unit has no correlation
    r = correlations(V, feat)
    np.testing.assert_allclose(r[:3], [np.corrcoef(V[:, j], feat)[0, 1] for j in range(3)], atol=1e-12)
    assert r[3] == 0.0
    ranking = rank_units(V, {"f": feat, "flat": np.ones(50)}, top=2)
    assert ranking["f"][0]["unit"] == 2 and ranking["f"][0]["r"] < -0.99 and ranking["flat"] == []
    assert best_unit(ranking) == 2 and best_unit({}) == 0


def test_record_states_matches_the_nn_model(lm_run):
    """The reference engine on the trained weights gives the nn model's hidden states (float32 vs float64)."""
    import torch

    from rnnkit.tasks.lm.task import LanguageModel

    lm = LanguageModel.load(lm_run)
    text = 'He said "the dog (a red one)".\nThe fox'
    rec = record_states(lm, text)
    assert rec.tokens == list(text) and set(rec.layers[0]) == {"h", "c", "i", "f", "g", "o"}
    ids = torch.as_tensor(lm.vocab.encode(list(text)))[None]
    with torch.no_grad():
        out, _ = lm.model.rnn(lm.model.embed(ids))  # (1, T, H)
    np.testing.assert_allclose(rec.values("h"), out[0].double().numpy(), atol=1e-5)  # float32 rounding
    f = rec.values("f")
    assert f.shape == (len(text), 16) and np.all((f > 0) & (f < 1))
    with pytest.raises(ValueError, match=r"no 'r' for a lstm cell; choose one of h, c, i, f, g, o"):
        rec.values("r")


@pytest.mark.filterwarnings("ignore:text has 3 char:UserWarning")  # the unit=99 call reads the same text
def test_explain_states_writes_png_and_valid_html(lm_run, tmp_path):
    text = 'He said "the quick (brown) fox".\nShe <left> & wrote.\n'
    with pytest.warns(UserWarning, match=r"outside the vocabulary"):  # '<', '>', '&' are not in its text
        s = explain_states(lm_run, text, tmp_path, top=2, chars=40)
    assert s["tokens"] == len(text) and s["hidden_size"] == 16 and 0 <= s["unit"] < 16
    assert s["unit"] == s["shown_units"][0] and set(s["gate_means"]) == {"i", "f", "o"}
    assert set(s["ranking"]) >= {"position_in_line", "inside_quotes", "inside_parens", "is_space"}
    png = tmp_path / "states.png"
    assert png.read_bytes()[:4] == b"\x89PNG" and png.stat().st_size < 150_000
    page = (tmp_path / "states.html").read_text(encoding="utf-8")
    p = _parse(page)
    assert 1 <= len(p.blocks) <= 4
    for block in p.blocks:
        assert "".join(sp["text"] for sp in block["spans"]) == text and len(block["spans"]) == len(text)
    assert f">{html_lib.escape('<')}</span>" in page and ">&amp;</span>" in page  # escaped one char at a time
    with pytest.raises(ValueError, match=r"--unit 99 is out of range: the layer has 16 units \(0..15\)"):
        explain_states(lm_run, text, tmp_path, unit=99)
    with pytest.raises(ValueError, match="the text is empty"):
        explain_states(lm_run, "", tmp_path)


def test_html_in_headless_chromium(tmp_path):
    """The page as a browser builds it: one coloured span per character, the text intact (quotes, <, &, line
    breaks), one block per unit; a screenshot in the test's folder."""
    from tests.browser import headless_chromium

    path = tmp_path / "p.html"
    path.write_text(
        html_page(list(TRICKY), [("u", np.linspace(-1, 1, len(TRICKY))), ("v", np.zeros(len(TRICKY)))]),
        encoding="utf-8",
    )
    with headless_chromium(width=900, height=500) as browser:
        browser.get(path.as_uri())
        blocks = browser.execute_script(
            "return [...document.querySelectorAll('div.text')].map(d => [d.dataset.caption, d.textContent,"
            " d.querySelectorAll('span.c').length, getComputedStyle(d.firstChild).backgroundColor])"
        )
        browser.save_screenshot(str(tmp_path / "states.png"))
    assert [b[:3] for b in blocks] == [["u", TRICKY, len(TRICKY)], ["v", TRICKY, len(TRICKY)]]
    assert blocks[0][3] != blocks[1][3]  # -1 and 0 are different colours as the browser paints them
    assert (tmp_path / "states.png").read_bytes()[:4] == b"\x89PNG"


def test_record_states_two_layer_gru_matches_the_nn_model():
    """Gates of a GRU (r, z, n) and the layer-to-layer hand-off, on a fresh 2-layer model (no run folder)."""
    from types import SimpleNamespace

    import torch

    from rnnkit.data.text import Vocab
    from rnnkit.layout import CellOptions
    from rnnkit.tasks.lm.model import RecurrentLM

    torch.manual_seed(0)
    text = "a (b) 'c' d\ne f"
    vocab = Vocab.build(text, level="char")
    model = RecurrentLM(
        len(vocab),
        cell="gru",
        embedding_dim=4,
        hidden_size=5,
        num_layers=2,
        options=CellOptions(gru_variant="paper"),
        impl="loop",
    ).eval()
    cfg = SimpleNamespace(model=SimpleNamespace(cell=SimpleNamespace(name="gru")), data=SimpleNamespace(level="char"))
    rec = record_states(SimpleNamespace(model=model, config=cfg, vocab=vocab), text)
    assert len(rec.layers) == 2 and set(rec.layers[1]) == {"h", "r", "z", "n"}
    with torch.no_grad():
        out, state = model.rnn(model.embed(torch.as_tensor(vocab.encode(list(text)))[None]))
    np.testing.assert_allclose(rec.values("h", layer=1), out[0].double().numpy(), atol=1e-5)  # float32 rounding
    np.testing.assert_allclose(rec.values("h", layer=0)[-1], state[0][0, 0].double().numpy(), atol=1e-5)
