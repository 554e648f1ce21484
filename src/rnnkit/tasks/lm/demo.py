"""``rnnkit demo``: train a small character LSTM offline, report validation bits/char, sample text, plot losses.

Data: Tiny Shakespeare when a data root has it (``$RNNKIT_DATA``, else ``../shared/data`` next to the
repository); otherwise English text that ships inside CPython itself - the Python Language Reference help
topics in ``pydoc_data.topics`` (~465 KB; see ``rnnkit.data.text.builtin_english``), written into the run
folder as ``demo-input.txt`` so the run's ``config.json`` re-runs it. No network, no data root needed.

Everything goes through the library: ``LanguageModel`` builds the data and model, ``fit`` trains (with its
progress bar and loss plot), ``evaluate`` reads the whole validation split with the state carried, and
``FastDecoder`` samples.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any, TextIO

from rnnkit.config import CellConfig, TrainConfig
from rnnkit.data.sources import available
from rnnkit.data.text import builtin_english
from rnnkit.durable import write_text
from rnnkit.tasks.lm.config import LMConfig, LMDataConfig, LMModelConfig
from rnnkit.tasks.lm.task import LanguageModel

# <repo>/../shared/data, a data folder beside the checkout (this file is <repo>/src/rnnkit/tasks/lm/demo.py)
SHARED_DATA = Path(__file__).resolve().parents[5] / "shared" / "data"

# The demo model: small enough to learn visibly in ~2 minutes on 2 CPU cores (tests shrink it further).
DEMO_MODEL: dict[str, Any] = {"cell": "lstm", "embedding_dim": 64, "hidden_size": 256, "num_layers": 2, "dropout": 0.1}


def find_demo_data_root() -> Path | None:
    """A data root holding tiny-shakespeare: ``$RNNKIT_DATA``, else ``<repo>/../shared/data`` if present."""
    from rnnkit.data.sources import find_data_root

    candidates = [find_data_root(None), SHARED_DATA]
    for root in candidates:
        if root is not None and available("tiny-shakespeare", data_root=root):
            return root
    return None


def demo_config(*, seconds: float, out: str | Path, data: LMDataConfig, seed: int = 0, quiet: bool = False) -> LMConfig:
    """The demo recipe: a 2x256 char LSTM (embedding 64), TBPTT 64, batch 32, AdamW 3e-3, decayed at the end."""
    eval_every = 200 if seconds >= 60 else 25
    return LMConfig(
        run_dir=str(out),
        model=LMModelConfig(
            cell=CellConfig(DEMO_MODEL["cell"]), **{k: v for k, v in DEMO_MODEL.items() if k != "cell"}
        ),
        data=data,
        train=TrainConfig(
            epochs=1000,
            lr=3e-3,
            clip_norm=1.0,
            log_every=25,
            eval_every=eval_every,
            seed=seed,
            quiet=quiet,
            unit="tokens",
        ),
        time_limit=seconds,
        time_decay="wsd",  # constant lr, then to 0 over the last 20% of the budget (see TimeBudget)
        final_eval_batch_size=4,
    )


def run_demo(
    *,
    seconds: float = 120.0,
    out: str | Path = "runs/demo",
    length: int = 400,
    seed: int = 0,
    quiet: bool = False,
    stream: TextIO | None = None,
) -> dict[str, Any]:
    """Train for ``seconds``, then print validation bits/char and a ``length``-char sample; returns the results."""
    from rnnkit.runfolder import claim

    stream = stream or sys.stdout
    out = Path(out)
    with claim(out, overwrite=True, task="lm") as notes:  # a previous demo is moved aside, not mixed with this one
        for n in notes:
            print(f"({n})", file=stream)
        return _run_demo(seconds=seconds, out=out, length=length, seed=seed, quiet=quiet, stream=stream)


def _run_demo(*, seconds: float, out: Path, length: int, seed: int, quiet: bool, stream: TextIO) -> dict[str, Any]:
    root = find_demo_data_root()
    if root is not None:
        data = LMDataConfig(dataset="tiny-shakespeare", data_root=str(root), batch_size=32, bptt=64)
        what, prompt = f"Tiny Shakespeare ({root / 'tiny-shakespeare'}), first 90% train / last 10% valid", "ROMEO:"
    else:
        text, desc = builtin_english()
        path = out / "demo-input.txt"
        write_text(path, text)
        data = LMDataConfig(path=str(path.resolve()), batch_size=32, bptt=64, val_fraction=0.1)
        what, prompt = f"{desc}, {len(text) / 1e3:.0f} KB (no Tiny Shakespeare in a data root)", "The "
    cfg = demo_config(seconds=seconds, out=out, data=data, seed=seed, quiet=quiet)
    from rnnkit.host import one_thread_if_busy  # (`rnnkit demo` has run it already; a library call has not)

    one_thread_if_busy(lambda m: print(m, file=stream))  # 2 threads on 2 busy cores: a step 18x slower
    m = cfg.model
    size = f"{m.num_layers}x{m.hidden_size} character {m.cell.name.upper()}"
    print(f"rnnkit demo: a {size} trained for {seconds:g} s on {what}", file=stream)
    lm = LanguageModel(cfg)
    results = lm.fit_and_test()
    if results is None:  # interrupted (Ctrl-C): as `rnnkit lm train` says it, no report and no sample
        print(f"\n{lm.fit_result.stop_reason}; nothing scored", file=stream)
        return {}
    valid = results.get("valid", {})
    print(
        f"\nafter {results['train_seconds']:.0f} s ({results['steps']} steps): validation "
        f"{valid.get('loss', float('nan')):.3f} nats/char = {valid.get('bpc', float('nan')):.3f} bits/char "
        f"(uniform over {results['vocab_size']} symbols would be {_log2(results['vocab_size']):.2f})",
        file=stream,
    )
    print(f"\n--- sample (temperature 0.8, prompt {prompt!r}) ---\n{prompt}", end="", file=stream)
    for piece in lm.generate(prompt, length=length, temperature=0.8, seed=seed):
        print(piece, end="", file=stream, flush=True)
    print("\n---", file=stream)
    plot = out / "loss.png"
    files = "config.json, task.json, metrics.jsonl, eval.json, checkpoints" + (", loss.png" if plot.exists() else "")
    print(f"run folder {out}: {files}", file=stream)
    print(f"next: rnnkit generate {out} --prompt {prompt!r} --length 500 --temperature 0.8", file=stream)
    return results


def _log2(n: int) -> float:
    import math

    return math.log2(n)
