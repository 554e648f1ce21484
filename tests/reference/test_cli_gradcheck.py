"""``rnnkit gradcheck``: a table of per-array errors, exit 0 on pass, 1 on a wrong backward, 2 on bad input."""

from __future__ import annotations

from typer.testing import CliRunner

from rnnkit import registry
from rnnkit.cli import app

runner = CliRunner()


def test_gradcheck_passes_and_prints_the_table():
    result = runner.invoke(app, ["gradcheck", "--cell", "lstm", "--layers", "2", "--hidden", "2", "--seed", "1"])
    assert result.exit_code == 0, result.output
    for text in ("layers.1.fwd.W_hh", "state0.c", "state_in.h", "PASS", "gradcheck passed", "truncated BPTT"):
        assert text in result.output, text
    assert "FAIL" not in result.output


def test_gradcheck_bidirectional_and_options():
    args = ["gradcheck", "--cell", "gru", "--bidirectional", "--hidden", "2", "--gru-variant", "paper"]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "layers.0.bwd.W_hh" in result.output and "gru_variant='paper'" in result.output
    assert "truncated BPTT" not in result.output  # forward-in-time only: skipped for bidirectional


def test_gradcheck_exits_1_on_a_wrong_backward(monkeypatch):
    mod = registry.get_cell("rnn", engine="reference")
    good = mod.step_backward

    def bad(dnew, cache):
        dx, ds, dp = good(dnew, cache)
        return dx * 1.01, ds, dp

    monkeypatch.setattr(mod, "step_backward", bad)
    result = runner.invoke(app, ["gradcheck", "--cell", "rnn", "--k1", "0"])
    assert result.exit_code == 1
    assert "FAIL" in result.output and "gradcheck FAILED: 1 arrays" in result.output


def test_gradcheck_unknown_cell_and_bad_option():
    result = runner.invoke(app, ["gradcheck", "--cell", "transformer"])
    assert result.exit_code == 2
    assert "unknown cell 'transformer'" in result.output and "lstm" in result.output
    result = runner.invoke(app, ["gradcheck", "--cell", "rnn", "--nonlinearity", "gelu"])
    assert result.exit_code == 2 and "nonlinearity must be 'tanh' or 'relu'" in result.output
