"""A tiny reverse task (vocabulary 5 + specials, length <= 4) is learned through fit() to >= 95% exact match."""

from __future__ import annotations

import random

import torch

from rnnkit.config import apply_overrides
from rnnkit.tasks.translate.task import Translator, TranslatorConfig


def reverse_pairs(rnd: random.Random, n: int) -> list[tuple[str, str]]:
    out = []
    for _ in range(n):
        w = [rnd.choice("abcde") for _ in range(rnd.randint(1, 4))]
        out.append((" ".join(w), " ".join(reversed(w))))
    return out


def test_reverse_task_is_learned() -> None:
    torch.set_num_threads(1)  # tiny matrices: one thread is fastest and leaves the other core to the rest
    rnd = random.Random(0)
    train, test = reverse_pairs(rnd, 2000), reverse_pairs(rnd, 200)
    cfg = apply_overrides(
        TranslatorConfig(),
        [
            "model.hidden_size=32",
            "model.embed_size=16",
            "data.batch_size=128",
            "train.lr=2e-2",
            "train.epochs=50",
            "train.max_steps=200",
            "train.schedule.name=cosine",
            "train.quiet=true",
        ],
    )
    tr = Translator(cfg)
    tr.fit(train)
    greedy = tr.evaluate(test, beam_size=1)
    beam = tr.evaluate(test, beam_size=3)
    # measured 0.98-1.00 over train seeds 0-2 (200 steps, ~5 s on an idle core); 0.95 is the bar from the issue
    assert greedy["exact_match"] >= 0.95, greedy["samples"]
    assert beam["exact_match"] >= 0.95, beam["samples"]
