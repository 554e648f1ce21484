"""What translate reports: sacreBLEU scores with their signatures, the human-readable report, the attention plot."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import Tensor

from rnnkit.tasks.translate import data as P

# ---- scores -----------------------------------------------------------------------------------------------


def corpus_scores(hypotheses: Sequence[str], references: Sequence[str]) -> dict[str, Any]:
    """sacreBLEU corpus BLEU (13a tokenisation, exp smoothing, case-sensitive) and chrF, one reference each, with
    the signatures sacreBLEU gives for exactly these settings. Pass detokenised output and raw references."""
    from sacrebleu.metrics import BLEU, CHRF

    if len(hypotheses) != len(references):
        raise ValueError(f"{len(hypotheses)} hypotheses but {len(references)} references; they must pair up")
    bleu, chrf = BLEU(), CHRF()
    b = bleu.corpus_score(list(hypotheses), [list(references)])
    c = chrf.corpus_score(list(hypotheses), [list(references)])
    return {
        "bleu": b.score,
        "chrf": c.score,
        "bleu_signature": str(bleu.get_signature()),
        "chrf_signature": str(chrf.get_signature()),
        "bleu_detail": str(b),
    }


def print_scores(report: dict[str, Any], *, title: str) -> None:
    """One line of scores per decoding (what was compared, labelled), the normalised-text scores when there are
    some, and the sacreBLEU signatures; the title on stderr."""
    import typer

    parts = {k: v for k, v in report.items() if isinstance(v, dict) and "bleu" in v} or {"": report}
    typer.echo(title, err=True)
    for name, r in parts.items():
        typer.echo(
            f"{name + ': ' if name else ''}BLEU {r['bleu']:.2f}  chrF {r['chrf']:.2f}  ({r['output']} output vs "
            f"{r['references']} references)  exact {r['exact_match']:.3f}  n={r['n']}  beam={r['beam_size']}  "
            f"{r['sentences_per_s']:.1f} sentences/s"
        )
        if "bleu_normalised" in r:
            typer.echo(
                f"  normalised text ({r['normalised_text']}): BLEU {r['bleu_normalised']:.2f}  "
                f"chrF {r['chrf_normalised']:.2f}"
            )
        typer.echo(f"  BLEU signature: {r['bleu_signature']}")
        typer.echo(f"  chrF signature: {r['chrf_signature']}")


# ---- plot -------------------------------------------------------------------------------------------------


def plot_attention(
    src_tokens: Sequence[str], out_tokens: Sequence[str], weights: Any, out: str | os.PathLike, *, title: str = ""
) -> Path:
    """Attention heatmap (rows: output tokens, columns: source tokens) -> PNG."""
    import numpy as np

    from rnnkit.plots import plt, save_figure  # pyplot on the Agg backend (no display needed)

    w = np.asarray(weights.detach().cpu() if isinstance(weights, Tensor) else weights, dtype=np.float64)
    src_tokens, out_tokens = ([t.replace(P.JOINER, "") for t in x] for x in (src_tokens, out_tokens))  # no glyph
    if w.shape != (len(out_tokens), len(src_tokens)):
        raise ValueError(f"plot_attention: weights {w.shape} != (outputs {len(out_tokens)}, sources {len(src_tokens)})")
    fig, ax = plt.subplots(figsize=(1 + 0.5 * len(src_tokens), 1 + 0.4 * len(out_tokens)), dpi=100)
    im = ax.imshow(w, cmap="bone", vmin=0.0, vmax=1.0, aspect="auto")
    fig.colorbar(im, ax=ax)
    ax.set_xticks(range(len(src_tokens)), list(src_tokens), rotation=90)
    ax.set_yticks(range(len(out_tokens)), list(out_tokens))
    ax.set_xlabel("source")
    ax.set_ylabel("output")
    if title:
        ax.set_title(title)
    fig.tight_layout()
    return save_figure(fig, out)
