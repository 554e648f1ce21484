"""Training-step throughput: full softmax vs adaptive softmax, 2x200 untied LSTM on PTB (V=10k), N=20, T=35.

One process, variants and thread counts interleaved per round; median tokens/s over rounds.

    python benchmarks/bench_adaptive.py [ROUNDS]      # data: $RNNKIT_DATA or ../shared/data
"""

import os
import sys

import torch
from common import interleaved, machine_info, print_host, shared_data_root

from rnnkit.data.streams import TokenStream
from rnnkit.tasks.lm.model import RecurrentLM
from rnnkit.tasks.lm.task import LanguageModel, LMConfig, LMDataConfig

ROUNDS, WARM, STEPS = int(sys.argv[1]) if len(sys.argv) > 1 else 5, 1, 8
VARIANTS = {"full": None, "asm[2000,6000]": [2000, 6000], "asm[1000,4000]": [1000, 4000], "asm[500,2000]": [500, 2000]}
THREADS = (1, 2)

lm = LanguageModel(
    LMConfig(data=LMDataConfig(dataset="ptb", data_root=shared_data_root(), level="word", batch_size=20, bptt=35))
)
data = lm.data()
V = len(data.vocab)
counts = torch.bincount(torch.as_tensor(data.train), minlength=V)
cum = counts.cumsum(0).double() / counts.sum()
print_host()  # the CPU model and flags every figure depends on
print(
    f"PTB V={V}; token coverage of ids [0,500) {cum[499]:.3f}, [0,1000) {cum[999]:.3f}, [0,2000) {cum[1999]:.3f}, "
    f"[0,4000) {cum[3999]:.3f}, [0,6000) {cum[5999]:.3f}"
)
stream = TokenStream(data.train, batch_size=20, bptt=35)
batches = [b for _, b in zip(range(STEPS), stream.epoch(0), strict=False)]

models = {}
for name, cut in VARIANTS.items():
    torch.manual_seed(0)
    models[name] = RecurrentLM(V, cell="lstm", embedding_dim=200, hidden_size=200, num_layers=2, adaptive_cutoffs=cut)
    print(name, "parameters", sum(p.numel() for p in models[name].parameters()))

# correctness first: the adaptive nll is -log p(target) of the full log-probabilities
m = models["asm[2000,6000]"].eval()
x, y = batches[0][0], batches[0][1]
with torch.no_grad():
    nll, _ = m.nll(x, y)
    lp, _ = m(x)
err = (nll + lp.gather(-1, y[..., None])[..., 0]).abs().max().item()
print(f"check: |nll + log p(y)| max {err:.2e}; sum of probabilities - 1: {(lp.exp().sum(-1) - 1).abs().max():.2e}")
assert err < 1e-4


def steps(model: RecurrentLM, threads: int):
    """One timed sample: ``STEPS`` training steps from a zero state at ``threads`` torch threads."""

    def run() -> None:
        torch.set_num_threads(threads)
        model.train()
        state = None
        for b in batches:
            nll, state = model(b[0], state, targets=b[1])
            state = tuple(s.detach() for s in state)
            opts[id(model)].zero_grad(set_to_none=True)
            nll.mean().backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), 0.25)
            opts[id(model)].step()

    return run


opts = {id(m): torch.optim.SGD(m.parameters(), lr=1.0) for m in models.values()}
fns = {(v, n): steps(models[v], n) for n in THREADS for v in VARIANTS}
timings = interleaved({f"{v}@{n}": fn for (v, n), fn in fns.items()}, repeats=ROUNDS, warmup=WARM)

info = machine_info()
print(f"\nmachine: {info['cpu']}, {info['cores']} cores, torch {info['torch']}, load {os.getloadavg()[0]:.2f}")
print(f"{'variant':<16} {'threads':>7} {'tok/s median':>13} {'min':>8} {'max':>8} {'x full':>7}")
tokens = STEPS * 20 * 35
for n in THREADS:
    base = tokens / timings[f"full@{n}"].median
    for v in VARIANTS:
        t = timings[f"{v}@{n}"]
        med = tokens / t.median
        print(
            f"{v:<16} {n:>7} {med:>13.0f} {tokens / max(t.samples):>8.0f} {tokens / min(t.samples):>8.0f} "
            f"{med / base:>7.2f}"
        )
