"""Split in rnnkit 0.2: ``Attention`` and ``ATTENTIONS`` went to ``rnnkit.models.attention``, the decoding loops to
``rnnkit.models.beam``, the ``Seq2Seq`` network and its helpers to ``rnnkit.tasks.translate.model``. The old names
still import from here with a warning (``rnnkit.moved.MOVED_NAMES``); this module goes in 0.3."""

from rnnkit.moved import names

__getattr__ = names(__name__)
