"""Building blocks that two or more tasks share (a network used by one task lives in that task's ``model.py``).

- ``encoder``: ``TokenEncoder``, ids -> embedding -> recurrent stack (translate; summarise, caption, speak to come).
- ``heads``: pooling over time (last, mean, max, attention) and the pooled classifier head (classify, speech).
- ``crf``: a linear-chain CRF, forward algorithm and Viterbi (tag).
- ``attention``: additive (Bahdanau) and multiplicative (Luong dot, general) attention over a memory.
- ``beam``: greedy and batched beam search over any step function, with length penalty and length limits.
- ``cnn``: a small conv-BN-ReLU-pool frame/image encoder: feature maps, regions, pooled codes (video, caption).
- ``regularizers``: locked dropout, embedding dropout and DropConnect on recurrent weights (AWD-LSTM).

``classifier``, ``tagger``, ``forecast``, ``music`` and ``seq2seq`` are aliases left for one release by the move of
each network into its task (``rnnkit.moved``).
"""
