"""Translate with an exported rnnkit translator, using onnxruntime and numpy only (no torch, no rnnkit): greedy
decoding, one decoder step per call with the state fed back.

    rnnkit export runs/fr-en --onnx fr-en.onnx      # fr-en.encoder.onnx, fr-en.decoder.onnx (+ .json each)
    python examples/onnx_translate.py fr-en.onnx "je suis la ." "tu es fatigue ."

The sentences must already be tokenised as the run's text settings say (the JSON's "text": tokens separated by
spaces, normalised and lower-cased if it says so). Prints one translation per line.
"""

import json
import math
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort


def main(model: str, sentences: list[str]) -> None:
    p = Path(model)
    enc, dec = (
        ort.InferenceSession(str(p.with_name(f"{p.stem}.{part}.onnx")), providers=["CPUExecutionProvider"])
        for part in ("encoder", "decoder")
    )
    meta = json.loads(p.with_name(f"{p.stem}.encoder.json").read_text(encoding="utf-8"))
    src_index = {t: i for i, t in enumerate(meta["src_vocab"]["tokens"])}
    tgt_words = meta["tgt_vocab"]["tokens"]
    wanted = {i.name for i in dec.get_inputs()}  # "feed" is an input only with input feeding
    for sentence in sentences:
        ids = [src_index.get(t, meta["unk_id"]) for t in sentence.split()] + [meta["eos_id"]]
        src, lengths = np.array([ids], dtype=np.int64), np.array([len(ids)], dtype=np.int64)  # (1, S), (1,)
        memory, keys, *state = enc.run(None, {"src": src, "src_lengths": lengths})  # state: h [c] (L, 1, H), feed
        limit = min(meta["max_len"], math.ceil(len(ids) * meta["max_len_ratio"]) + 1)
        y, out = meta["bos_id"], []
        for t in range(limit):
            feeds = {"y_prev": np.array([y], dtype=np.int64), "memory": memory, "keys": keys, "src_lengths": lengths}
            feeds.update((k, v) for k, v in zip([*meta["state"], "feed"], state, strict=True) if k in wanted)
            logits, _, *state = dec.run(None, feeds)  # (1, V), attention (1, S), the next state
            logits[0, [meta["pad_id"], meta["bos_id"]]] = -np.inf  # never generated
            y = meta["eos_id"] if t == limit - 1 else int(logits[0].argmax())  # the last step can only end it
            if y == meta["eos_id"]:
                break
            out.append(tgt_words[y])
        print(" ".join(out))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
