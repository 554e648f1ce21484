"""``rnnkit explain states``: what a trained language model's hidden units and gates do, character by character.

After Karpathy, Johnson & Fei-Fei 2015, "Visualizing and Understanding Recurrent Networks" (§4.2 "interpretable,
long-range LSTM cells", §4.3 gate statistics): run the model over a text, keep every hidden unit and every gate
activation at every step, then

* rank units by their correlation with simple features of the text (position in the line, inside quotes,
  inside parentheses, is a space, ...) — the cells that "count" or "track quotes";
* draw a heatmap (units x characters) of h and of the gates (LSTM: input i, forget f, output o;
  GRU: reset r, update z);
* write an HTML page where each character is a ``<span>`` coloured by one unit's activation.

The activations come from the NumPy reference engine run with the trained weights (converted to float64):
its step caches hold every gate, which the fused nn kernels do not expose. The embedding lookup is the
model's own. A test checks the reference states against the model's nn forward.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rnnkit.durable import write_text
from rnnkit.explain.trace import gate_activations, run_steps
from rnnkit.layout import layout
from rnnkit.registry import FactView, facts

# Gates the tutorial shows per cell: each cell's ``CellFacts.shown_gates`` (a live view of them).
SHOWN_GATES: FactView[tuple[str, ...]] = FactView(lambda f: f.shown_gates or None)


@dataclass
class StateRecord:
    """Per-step activations of every layer: ``layers[l][name]`` is (T, H) for name in h, c, and each gate."""

    cell: str
    tokens: list[str]
    layers: list[dict[str, np.ndarray]]

    def values(self, name: str = "h", layer: int = -1) -> np.ndarray:
        """(T, H) activations of ``name`` (h, c or a gate) in ``layer``, with a clear error for a wrong name."""
        lay = self.layers[layer]
        if name not in lay:
            raise ValueError(f"no {name!r} for a {self.cell} cell; choose one of {', '.join(lay)}")
        return lay[name]


def record_states(lm: Any, text: str) -> StateRecord:
    """Run a loaded ``LanguageModel`` over ``text`` (N = 1) through the reference engine; keep everything."""
    import torch

    from rnnkit.data.text import tokenize

    model, cfg = lm.model, lm.config
    cell_name = cfg.model.cell.name
    tokens = tokenize(text, cfg.data.level)
    if not tokens:
        raise ValueError("explain states: the text is empty; pass a file with at least one character")
    ids = torch.as_tensor(lm.vocab.encode(tokens), dtype=torch.long)[None]  # (1, T)
    model.eval()
    with torch.no_grad():
        x = model.embed(ids).double().numpy()  # (1, T, E): the model's own embedding lookup
    layers = []
    for l in range(len(model.rnn.layers)):
        cell = model.rnn.layers[l]["fwd"]
        params = {k: v.detach().double().numpy() for k, v in cell.params().items()}
        states, caches = run_steps(cell_name, params, x, options=cell.options)
        rec = {name: np.stack([s[k][0] for s in states]) for k, name in enumerate(layout(cell_name).state)}  # (T, H)
        for g in layout(cell_name).gates:
            acts = [gate_activations(cell_name, c).get(g) for c in caches]
            if acts[0] is not None:
                rec[g] = np.stack([a[0] for a in acts])  # (T, H)
        layers.append(rec)
        x = rec["h"][None]  # (1, T, H) input of the next layer
    return StateRecord(cell_name, tokens, layers)


# ---- features and correlations ------------------------------------------------------------------------------


def text_features(tokens: list[str]) -> dict[str, np.ndarray]:
    """Simple per-character features (T,) a unit may track: line position, quotes, parentheses, spaces, case."""
    T = len(tokens)
    f = {
        k: np.zeros(T)
        for k in (
            "position_in_line",
            "inside_quotes",
            "inside_parens",
            "is_space",
            "is_upper",
            "is_vowel",
            "is_punct",
            "position_in_word",
        )
    }
    pos = wpos = depth = 0
    quoted = False
    for t, ch in enumerate(tokens):
        f["position_in_line"][t] = pos
        f["position_in_word"][t] = wpos
        f["inside_quotes"][t] = quoted
        f["inside_parens"][t] = depth > 0
        f["is_space"][t] = ch.isspace()
        f["is_upper"][t] = ch.isupper()
        f["is_vowel"][t] = ch.lower() in "aeiou"
        f["is_punct"][t] = len(ch) == 1 and not ch.isalnum() and not ch.isspace()
        pos = 0 if ch == "\n" else pos + 1
        wpos = 0 if ch.isspace() else wpos + 1
        if ch == '"':
            quoted = not quoted
        depth = depth + 1 if ch in "([{" else max(depth - 1, 0) if ch in ")]}" else depth
    return f


def correlations(values: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson correlation of every unit (T, H) with one feature (T,); 0 where either is constant."""
    v = values - values.mean(0)  # (T, H)
    g = feature - feature.mean()  # (T,)
    denom = np.sqrt((v * v).sum(0) * (g * g).sum())  # (H,)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (g @ v) / denom
    return np.where(denom > 0, r, 0.0)


def rank_units(values: np.ndarray, features: dict[str, np.ndarray], *, top: int = 3) -> dict[str, list[dict]]:
    """For each feature, the ``top`` units by |correlation|: ``[{"unit": j, "r": r}, ...]`` (constant features
    give an empty list)."""
    out = {}
    for name, feat in features.items():
        if np.ptp(feat) == 0:
            out[name] = []
            continue
        r = correlations(values, feat)
        best = np.argsort(-np.abs(r))[:top]
        out[name] = [{"unit": int(j), "r": float(r[j])} for j in best]
    return out


def best_unit(ranking: dict[str, list[dict]]) -> int:
    """The unit with the largest |correlation| with any feature (the default unit to colour by)."""
    pairs = [(abs(u["r"]), u["unit"]) for units in ranking.values() for u in units]
    return max(pairs)[1] if pairs else 0


# ---- HTML: one span per character ---------------------------------------------------------------------------


def color(v: float) -> str:
    """Activation in [-1, 1] -> background colour: white at 0, red towards +1, blue towards -1."""
    v = float(np.clip(v, -1.0, 1.0))
    k = int(round(255 - 200 * abs(v)))
    return f"rgb(255,{k},{k})" if v >= 0 else f"rgb({k},{k},255)"


def scale_for_color(name: str, a: np.ndarray) -> np.ndarray:
    """Map activations to [-1, 1] for colouring: gates (0..1) as 2a-1, h as is, c divided by its max |c|."""
    if name in ("h",):
        return a
    if name == "c":
        m = float(np.max(np.abs(a))) or 1.0
        return a / m
    return 2.0 * a - 1.0


def html_page(
    tokens: list[str],
    blocks: list[tuple[str, np.ndarray]],
    *,
    title: str = "rnnkit explain states",
    ranking: dict[str, list[dict]] | None = None,
    note: str = "",
) -> str:
    """A standalone HTML page: per block (caption, values (T,) in [-1, 1]) the text with one coloured
    ``<span class="c">`` per token — a character for char-level models — (``title`` holds the value),
    HTML-escaped; an optional ranking table."""
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title>",
        "<style>body{font-family:sans-serif;max-width:60em;margin:1em auto}"
        ".text{font-family:monospace;white-space:pre-wrap;line-height:1.5;border:1px solid #ccc;padding:.5em}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:2px 6px;font-size:90%}</style>",
        "</head><body>",
        f"<h1>{esc(title)}</h1>",
    ]
    if note:
        parts.append(f"<p>{esc(note)}</p>")
    if ranking:
        parts.append("<table><tr><th>feature</th><th>top units (correlation r)</th></tr>")
        for feat, units in ranking.items():
            cells = ", ".join(f"{u['unit']} ({u['r']:+.2f})" for u in units) or "constant in this text"
            parts.append(f"<tr><td>{esc(feat)}</td><td>{esc(cells)}</td></tr>")
        parts.append("</table>")
    for caption, values in blocks:
        if len(values) != len(tokens):
            raise ValueError(f"html_page: block {caption!r} has {len(values)} values for {len(tokens)} characters")
        parts.append(f"<h2>{esc(caption)}</h2>")
        spans = "".join(
            f'<span class="c" style="background-color:{color(v)}" title="{v:+.3f}">{esc(ch)}</span>'
            for ch, v in zip(tokens, values, strict=True)
        )
        parts.append(f'<div class="text" data-caption="{esc(caption)}">{spans}</div>')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


# ---- heatmap ------------------------------------------------------------------------------------------------


def plot_heatmap(rec: StateRecord, out: str | Path, *, units: list[int], layer: int = -1, chars: int = 80) -> Path:
    """Units x characters heatmaps of h and of the shown gates for ``units`` over the first ``chars`` steps."""
    from rnnkit.explain.plotting import save_figure, subplots

    names = ["h"] + [g for g in facts(rec.cell).shown_gates if g in rec.layers[layer]]
    T = min(chars, len(rec.tokens))
    fig, axes = subplots(len(names), 1, figsize=(9, 0.35 * len(units) * len(names) + 1.0), squeeze=False)
    for ax, name in zip(axes[:, 0], names, strict=True):
        a = rec.values(name, layer)[:T, units].T  # (U, T)
        lim = (-1, 1) if name == "h" else (0, 1)
        ax.imshow(
            a,
            aspect="auto",
            cmap="RdBu_r" if name == "h" else "viridis",
            vmin=lim[0],
            vmax=lim[1],
            interpolation="nearest",
        )
        ax.set_yticks(range(len(units)), [str(u) for u in units], fontsize=6)
        ax.set_ylabel(name, rotation=0, labelpad=10)
        ax.set_xticks(range(T), [repr(c)[1:-1] if c.isspace() else c for c in rec.tokens[:T]], fontsize=5)
    axes[0, 0].set_title(f"{rec.cell}: hidden units and gates over the first {T} characters", fontsize=9)
    return save_figure(fig, out)


def explain_states(
    run_dir: str | Path,
    text: str,
    out_dir: str | Path,
    *,
    unit: int | None = None,
    layer: int = -1,
    name: str = "h",
    top: int = 3,
    chars: int = 80,
    which: str = "best",
    html_units: int = 4,
    html_chars: int | None = None,
) -> dict[str, Any]:
    """The whole command: record, rank, write ``states.png`` and ``states.html`` into ``out_dir``; a summary.

    Units are ranked over the whole text; the heatmap shows its first ``chars`` tokens, the HTML page the
    first ``html_chars`` (all by default) coloured by the chosen unit and the next best, ``html_units`` blocks.
    """
    from rnnkit.tasks.lm.task import LanguageModel

    lm = LanguageModel.load(run_dir, which=which)
    page, s = states_page(
        lm,
        text,
        Path(run_dir).name,
        unit=unit,
        layer=layer,
        name=name,
        top=top,
        html_units=html_units,
        html_chars=html_chars,
    )
    rec = s.pop("record")
    out_dir = Path(out_dir)
    png = plot_heatmap(rec, out_dir / "states.png", units=s["shown_units"], layer=layer, chars=chars)
    html_path = out_dir / "states.html"
    write_text(html_path, page)
    return {**s, "heatmap": str(png), "html": str(html_path)}


def states_page(
    lm: Any,
    text: str,
    title: str,
    *,
    unit: int | None = None,
    layer: int = -1,
    name: str = "h",
    top: int = 3,
    html_units: int = 4,
    html_chars: int | None = None,
) -> tuple[str, dict[str, Any]]:
    """The HTML page of ``explain states`` for a loaded language model (also served by ``rnnkit serve`` at
    /states) and the summary: units ranked over the whole text, the chosen one and the next best coloured."""
    rec = record_states(lm, text)
    values = rec.values(name, layer)  # (T, H)
    H = values.shape[1]
    ranking = rank_units(values, text_features(rec.tokens), top=top)
    chosen = best_unit(ranking) if unit is None else unit
    if not 0 <= chosen < H:
        raise ValueError(f"--unit {chosen} is out of range: the layer has {H} units (0..{H - 1})")
    shown = [chosen] + [u["unit"] for us in ranking.values() for u in us[:1] if u["unit"] != chosen]
    shown = list(dict.fromkeys(shown))[:12]
    n = len(rec.tokens) if html_chars is None else html_chars
    shown_tokens = rec.tokens if lm.config.data.level == "char" else [t + " " for t in rec.tokens]  # words: spaced
    blocks = [(f"layer {layer} {name} unit {u}", scale_for_color(name, values[:n, u])) for u in shown[:html_units]]
    page = html_page(
        shown_tokens[:n],
        blocks,
        title=f"{title}: {rec.cell} {name} activations",
        ranking=ranking,
        note="Each character is coloured by the unit's activation after reading it: red positive, blue negative "
        "(gates: 0 blue, 1 red). Hover a character for the value.",
    )
    return page, {
        "cell": rec.cell,
        "layer": layer,
        "name": name,
        "tokens": len(rec.tokens),
        "hidden_size": H,
        "unit": chosen,
        "shown_units": shown,
        "ranking": ranking,
        "record": rec,
        "gate_means": {
            g: float(rec.values(g, layer).mean()) for g in facts(rec.cell).shown_gates if g in rec.layers[layer]
        },
    }
