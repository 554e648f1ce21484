"""torch.nn's own recurrent kernels run on OUR parameters, and weight conversion to and from torch.nn.

Our layout is torch.nn's layout (``W_ih (G*H, D)``, ``W_hh (G*H, H)``, ``b_ih``, ``b_hh``; gate order
i, f, g, o and r, z, n), so the fused path is a list of our tensors in torch.nn's flat order handed to
``torch._VF.{lstm, gru, rnn_tanh, rnn_relu}`` — oneDNN on CPU for LSTM, cuDNN on GPU. Autograd reaches our
parameters through the kernel, and a transformed weight (DropConnect) is simply a different tensor in the
list. This file has no reference twin; tests/parity checks it against the loop and the reference.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from rnnkit.layout import B_HH, B_IH, W_HH, W_IH, CellOptions, stacked_param_name, torch_param_name
from rnnkit.registry import facts

if TYPE_CHECKING:
    from rnnkit.nn.sequence import Recurrent  # which imports this module

# The torch.nn layers whose kernels we run, by the cell that names this module among its fast paths.
_TORCH_CLASSES: dict[str, type[nn.LSTM] | type[nn.GRU] | type[nn.RNN]] = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}


def supports(cell: str, options: CellOptions, *, x: Tensor | None = None) -> bool:
    """True when torch's fused kernels compute exactly our cell: a cell whose facts name this module (rnn, lstm,
    gru), GRU in torch form only."""
    if facts(cell).fast_paths.get("fused") != __name__:
        return False
    if cell == "gru" and options.gru_variant != "torch":
        return False  # the paper GRU applies r before the W_hn product; no torch kernel does that
    return x is None or x.dtype in (torch.float32, torch.float64, torch.bfloat16, torch.float16)


def _kernel(cell: str, options: CellOptions):
    """The torch._VF entry point for ``cell``."""
    if cell == "lstm":
        return torch._VF.lstm
    if cell == "gru":
        return torch._VF.gru
    return torch._VF.rnn_relu if options.nonlinearity == "relu" else torch._VF.rnn_tanh


def flat_weights(params: list[dict[str, Tensor]], *, bias: bool) -> list[Tensor]:
    """Per-(layer, direction) param dicts, in index l*dirs + d, -> torch.nn's flat weight list."""
    names = (W_IH, W_HH, B_IH, B_HH) if bias else (W_IH, W_HH)
    return [p[name] for p in params for name in names]


def run_stack(
    cell: str,
    x: Tensor,
    state: tuple[Tensor, ...],
    params: list[dict[str, Tensor]],
    options: CellOptions,
    *,
    num_layers: int,
    bidirectional: bool,
    bias: bool,
    dropout: float = 0.0,
    training: bool = False,
    lengths: Tensor | None = None,
) -> tuple[Tensor, tuple[Tensor, ...]]:
    """The whole stack in one torch kernel call: x (N, T, D), state of (L*dirs, N, H) -> (out, final state).

    ``params[l*dirs + d]`` holds layer l, direction d. With ``lengths`` the batch is packed, so padded
    positions give zero output and each sequence's final state is taken after its last real step.
    """
    kernel = _kernel(cell, options)
    flat = flat_weights(params, bias=bias)
    hx: Tensor | tuple[Tensor, ...] = state if cell == "lstm" else state[0]  # LSTM: (h0, c0); GRU / RNN: h0
    args = (flat, bias, num_layers, float(dropout), training, bidirectional)
    if lengths is None:
        res = kernel(x, hx, *args, True)  # batch_first=True
        return res[0], tuple(res[1:])
    T = x.shape[1]
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    idx, back = packed.sorted_indices, packed.unsorted_indices  # the kernel wants decreasing lengths
    assert idx is not None and back is not None  # enforce_sorted=False: pack_padded_sequence sorted the batch
    hx = tuple(s.index_select(1, idx) for s in state) if cell == "lstm" else state[0].index_select(1, idx)
    res = kernel(packed.data, packed.batch_sizes, hx, *args)
    out_packed = PackedSequence(res[0], packed.batch_sizes, idx, back)
    out, _ = pad_packed_sequence(out_packed, batch_first=True, total_length=T)  # (N, T, dirs*H), zeros past end
    final = tuple(s.index_select(1, back) for s in res[1:])
    return out, final


# ---- weight conversion ------------------------------------------------------------------------------------


def to_torch_state_dict(state_dict: dict[str, Tensor], *, num_layers: int, bidirectional: bool) -> dict:
    """Our stacked names ``layers.{l}.{fwd|bwd}.W_ih`` -> torch.nn names ``weight_ih_l{l}[_reverse]``."""
    out = {}
    for l in range(num_layers):
        for reverse in (False, True) if bidirectional else (False,):
            for name in (W_IH, W_HH, B_IH, B_HH):
                ours = stacked_param_name(name, l, reverse)
                if ours in state_dict:
                    out[torch_param_name(name, l, reverse)] = state_dict[ours]
    return out


def from_torch_state_dict(state_dict: dict[str, Tensor], *, num_layers: int, bidirectional: bool) -> dict:
    """torch.nn names -> our stacked names (the inverse of ``to_torch_state_dict``)."""
    out = {}
    for l in range(num_layers):
        for reverse in (False, True) if bidirectional else (False,):
            for name in (W_IH, W_HH, B_IH, B_HH):
                theirs = torch_param_name(name, l, reverse)
                if theirs in state_dict:
                    out[stacked_param_name(name, l, reverse)] = state_dict[theirs]
    return out


def _cell_of(module: nn.RNNBase) -> tuple[str, CellOptions]:
    if isinstance(module, nn.LSTM):
        return "lstm", CellOptions()
    if isinstance(module, nn.GRU):
        return "gru", CellOptions(gru_variant="torch")
    if isinstance(module, nn.RNN):
        return "rnn", CellOptions(nonlinearity=module.nonlinearity)
    raise TypeError(f"from_torch expects torch.nn.RNN, LSTM or GRU, got {type(module).__name__}")


def from_torch(module: nn.RNNBase, **kwargs) -> nn.Module:
    """A ``rnnkit.nn.RNN/LSTM/GRU`` with the sizes, options and (copied) weights of a torch.nn module.

    ``kwargs`` (e.g. ``impl``) pass to the rnnkit class. Our classes are batch first whatever
    ``module.batch_first`` says: the weights do not depend on it.
    """
    from rnnkit.nn.sequence import public_class

    cell, options = _cell_of(module)
    if getattr(module, "proj_size", 0):
        raise ValueError(f"from_torch: LSTM with proj_size={module.proj_size} has no rnnkit equivalent; use 0")
    ours = public_class(cell)(
        module.input_size,
        module.hidden_size,
        num_layers=module.num_layers,
        bidirectional=module.bidirectional,
        dropout=module.dropout,
        bias=module.bias,
        options=options,
        **kwargs,
    )
    p = next(module.parameters())
    ours.to(device=p.device, dtype=p.dtype)
    sd = dict(module.state_dict())
    sd = from_torch_state_dict(sd, num_layers=module.num_layers, bidirectional=module.bidirectional)
    ours.load_state_dict(sd)
    return ours


def to_torch(recurrent: Recurrent) -> nn.RNNBase:
    """A ``torch.nn.RNN/LSTM/GRU`` (batch_first=True) with the weights of a rnnkit ``Recurrent``."""
    cell, options = recurrent.cell, recurrent.options
    if not supports(cell, options):
        raise ValueError(
            f"to_torch: cell {cell!r} with {options} has no torch.nn equivalent "
            "(only rnn, lstm and gru with gru_variant='torch')"
        )
    kwargs = {"nonlinearity": options.nonlinearity} if cell == "rnn" else {}
    p = next(recurrent.parameters())
    module = _TORCH_CLASSES[cell](
        recurrent.input_size,
        recurrent.hidden_size,
        num_layers=recurrent.num_layers,
        bias=recurrent.bias,
        batch_first=True,
        dropout=recurrent.dropout,
        bidirectional=recurrent.bidirectional,
        device=p.device,
        dtype=p.dtype,
        **kwargs,
    )
    sd = to_torch_state_dict(
        dict(recurrent.state_dict()), num_layers=recurrent.num_layers, bidirectional=recurrent.bidirectional
    )
    module.load_state_dict(sd)
    return module
