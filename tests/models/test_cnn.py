"""rnnkit.models.cnn: the shared frame/image encoder gives the shapes its views promise, learns, refuses bad input."""

import pytest
import torch

from rnnkit.models.cnn import CNNConfig, FrameEncoder


def test_views_and_shapes():
    enc = FrameEncoder(1, CNNConfig(channels=(4, 8)))
    x = torch.randn(3, 1, 28, 28)
    assert enc(x).shape == (3, 8, 7, 7)  # two blocks: 28 -> 14 -> 7
    assert enc.regions(x).shape == (3, 49, 8) and enc.pooled(x).shape == (3, 8)
    assert torch.equal(enc.regions(x)[:, 0], enc(x)[:, :, 0, 0])  # region 0 is the top-left position
    clips = torch.randn(2, 5, 1, 28, 28)
    enc.eval()  # batch norm on running statistics: a frame's code does not depend on the other frames
    per_frame = torch.stack([enc.pooled(clips[:, t]) for t in range(5)], dim=1)
    assert torch.allclose(enc.over_time(clips), per_frame, atol=1e-6)


def test_every_parameter_learns():
    torch.manual_seed(0)
    enc = FrameEncoder(3, CNNConfig(channels=(4, 4), dropout=0.1))
    enc.pooled(torch.randn(4, 3, 16, 16)).pow(2).sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in enc.parameters())


def test_bad_input_and_config():
    enc = FrameEncoder(1, CNNConfig(channels=(4, 4, 4)))
    with pytest.raises(ValueError, match=r"smaller than the 8x downsampling"):
        enc(torch.randn(1, 1, 6, 6))
    with pytest.raises(ValueError, match=r"takes images \(N, C, H, W\)"):
        enc(torch.randn(1, 6, 6))
    with pytest.raises(ValueError, match=r"takes clips"):
        enc.over_time(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="odd"):
        CNNConfig(kernel=2)
    with pytest.raises(ValueError, match="positive channel"):
        CNNConfig(channels=())
