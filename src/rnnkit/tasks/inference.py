"""What every task does with a trained network, once: run it without gradients at the inference precision,
batch inputs by length, and export it to ONNX. A mixin of ``rnnkit.tasks.base.Task``."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, ClassVar, Protocol, TypeVar

import torch
from torch import nn

from rnnkit.errors import NotTrainedError

ModelT = TypeVar("ModelT", bound=nn.Module)
ModelT_co = TypeVar("ModelT_co", bound=nn.Module, covariant=True)


class HoldsModel(Protocol[ModelT_co]):
    """What ``require_model`` reads: a task whose ``model`` is its network (or None before fit / load). A task
    that declares ``model: TaggerNet | None`` (what its ``build_model`` gives) gets a ``TaggerNet`` back."""

    @property
    def model(self) -> ModelT_co | None: ...


class Inference:
    """``require_model``, ``inference_precision``, ``inference()``, ``infer`` and ``export_onnx`` of a Task."""

    name: ClassVar[str]
    model: nn.Module | None
    _inference_precision: str

    def require_model(self: HoldsModel[ModelT]) -> ModelT:
        """The trained network, or NotTrainedError saying how to get one."""
        if self.model is None:
            cls = type(self).__name__
            raise NotTrainedError(f"{cls} has no model yet: call fit() or {cls}.load(run_dir) first")
        return self.model

    @property
    def device(self) -> torch.device:
        return next(self.require_model().parameters()).device

    @property
    def inference_precision(self) -> str:
        """The precision ``predict`` / ``evaluate`` / ``generate`` run the network in: "fp32" (default), or "bf16":
        products in bfloat16, outputs, element-wise work and reductions float32 (``rnnkit.nn.precision.inference``).
        Independent of ``train.precision``. Setting bf16 where this CPU cannot run it raises ``PrecisionError``."""
        return self._inference_precision

    @inference_precision.setter
    def inference_precision(self, value: str) -> None:
        from rnnkit.nn import precision

        precision.check(value)  # refuse before any work, as fit does for train.precision
        self._inference_precision = value

    @contextlib.contextmanager
    def inference(self, model: nn.Module | None = None) -> Iterator[None]:
        """The context every inference pass of a task runs in: no gradients, ``model`` (default ``.model``) at
        ``inference_precision``. Re-entrant (evaluate -> predict)."""
        from rnnkit.nn import precision

        net = model if model is not None else self.require_model()
        with torch.no_grad(), precision.inference(net, self._inference_precision):
            yield

    def infer(
        self,
        items: Sequence[Any],
        run: Callable[[list[Any]], Iterable[Any]],
        *,
        batch_size: int,
        length: Callable[[Any], int] = len,
    ) -> list[Any]:
        """Length-sorted batched inference: ``run(batch_items)`` yields one result per item; results come back in
        input order. Sorting by length keeps padding small; no gradients, model in eval mode, at
        ``inference_precision``."""
        model = self.require_model()
        model.eval()
        order = sorted(range(len(items)), key=lambda i: length(items[i]))
        out: list[Any] = [None] * len(items)
        with self.inference(model):
            for s in range(0, len(order), batch_size):
                idx = order[s : s + batch_size]
                for i, r in zip(idx, run([items[i] for i in idx]), strict=True):
                    out[i] = r
        return out

    def onnx_spec(self, model: nn.Module, *, exporting: bool) -> Any:
        """The task's ONNX interface around ``model`` (``rnnkit.export.OnnxSpec``: inputs, outputs, example inputs,
        the JSON pre/post-processing); ``exporting``: ``model`` is the export copy. Tasks without one refuse."""
        from rnnkit.export import ExportError

        raise ExportError(
            f"ONNX export of {self.name} runs is not supported yet (done: classify, tag, lm, forecast, "
            "translate, speech, speech-ctc, music)"
        )

    def export_onnx(
        self, path: str | os.PathLike, *, lengths: tuple[int, int] = (7, 13), tol: float | None = 1e-4
    ) -> Any:
        """Write the model as ONNX (dynamic batch and time) at ``path`` and its pre/post-processing beside it
        (``path`` with .json); check the graph and compare onnxruntime with this model's own forward at two sequence
        lengths (ExportError above ``tol``). Returns ``rnnkit.export.ExportReport`` (the max abs differences)."""
        from rnnkit.export import ExportReports, export, exportable

        model = self.require_model().eval()
        spec = self.onnx_spec(exportable(model), exporting=True)  # the recurrence as an ONNX Loop (rnnkit.export)
        reference = self.onnx_spec(model, exporting=False)  # the same interface on the model as trained
        if not isinstance(spec, dict):
            return export(spec, reference.module, path, lengths=lengths, tol=tol)
        p = Path(path)  # several graphs (translate: encoder + decoder step): <name>.<part>.onnx each
        return ExportReports(
            {
                part: export(
                    s, reference[part].module, p.with_name(f"{p.stem}.{part}{p.suffix}"), lengths=lengths, tol=tol
                )
                for part, s in spec.items()
            }
        )
