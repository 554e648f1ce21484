"""Formats and catalogues that tasks share (what only one task reads lives in that task's ``data.py``).

- ``sources``: the data root, the known datasets' files and sha256, download code; ``DataError``.
- ``labelled``, ``readers``, ``formats``, ``conllu``, ``iob``, ``vectors``: labelled text and series, column files,
  CoNLL-U, entity tag schemes, pretrained word vectors; the known classification and tagging datasets.
- ``text``: UTF-8 text, the one vocabulary class (``Vocab``), the known text corpora.
- ``sequences``: padding with lengths, truncation with a count, length-bucketed batches; ``streams``: token streams
  for truncated BPTT.
- ``splits``: seeded train / validation / test splits and k-fold.
- ``images``: idx files and PNG/JPEG folders, and images as sequences.
- ``audio``, ``audio_features``: wav/flac in, log-mel and MFCC features.
- ``timeseries``, ``timeparse``: validated regular series from CSV, timestamps and frequencies.

``forecast_datasets``, ``windowing``, ``midi``, ``music``, ``pairs``, ``prepare`` and ``words`` are aliases left for
one release by the move of each module into its task (``rnnkit.moved``).
"""
