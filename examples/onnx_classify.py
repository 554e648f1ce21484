"""Classify texts with an exported rnnkit classifier, using onnxruntime and numpy only (no torch, no rnnkit).

    rnnkit export runs/clf --onnx clf.onnx          # writes clf.onnx and clf.json
    python examples/onnx_classify.py clf.onnx "a fine film" "dull"

Prints one line per text: the text, the most probable label and every label's probability (JSON).
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def encode(text: str, meta: dict) -> list[int]:
    """Text -> token ids as `rnnkit classify` does: lower-case if trained so, characters or words, unknown -> <unk>."""
    text = text.lower() if meta["lowercase"] else text
    tokens = list(text) if meta["input"] == "char" else text.split()
    index = {t: i for i, t in enumerate(meta["vocab"])}
    ids = [index.get(t, meta["unk_id"]) for t in tokens] or [meta["unk_id"]]  # an empty text is one <unk>
    return ids[: meta["max_len"]] if meta["max_len"] else ids


def main(model: str, texts: list[str]) -> None:
    meta = json.loads(Path(model).with_suffix(".json").read_text(encoding="utf-8"))
    ids = [encode(t, meta) for t in texts]
    lengths = np.array([len(s) for s in ids], dtype=np.int64)
    x = np.full((len(ids), lengths.max()), meta["pad_id"], dtype=np.int64)  # (N, T), padded
    for n, s in enumerate(ids):
        x[n, : len(s)] = s
    session = ort.InferenceSession(model, providers=["CPUExecutionProvider"])
    (probs,) = session.run(["probabilities"], {"x": x, "lengths": lengths})  # (N, C)
    for text, p in zip(texts, probs, strict=True):
        probabilities = dict(zip(meta["classes"], p.tolist(), strict=True))
        print(json.dumps({"text": text, "label": meta["classes"][int(p.argmax())], "probabilities": probabilities}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
