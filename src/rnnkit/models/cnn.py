"""A small convolutional encoder for frames and images, shared by the tasks that see pictures (video: a CNN per
frame under a recurrent net, Donahue et al. 2015; captioning: the feature map an attention decoder looks at, Xu et
al. 2015). Trained from scratch: a few conv-BN-ReLU-pool blocks, as small images (28-64 px) want.

    frames (N, T, C, H, W) -> encode each frame -> (N, T, F)        ``over_time``  (video)
    image (N, C, H, W)     -> feature map (N, F, H', W')            ``forward``
                           -> regions (N, R, F), R = H' * W'        ``regions``    (captioning's attention)
                           -> pooled (N, F)                         ``pooled``

Shape letters: N batch, T frames, C input channels, H x W pixels, F features (the last block's channels), R regions.
Each block halves H and W (``MaxPool2d(2)``), so H' = H / 2^blocks (floored).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor, nn


@dataclass(frozen=True)
class CNNConfig:
    """The encoder's shape: one block per entry of ``channels``."""

    channels: tuple[int, ...] = (32, 64, 128)  # three blocks: 64x64 frames -> 8x8 maps of 128 features
    kernel: int = 3  # odd, padded to keep the size before pooling
    dropout: float = 0.0  # 2-D dropout after each block (whole feature maps), training only

    def __post_init__(self) -> None:
        if not self.channels or any(c < 1 for c in self.channels):
            raise ValueError(f"cnn.channels must be positive channel counts, got {self.channels}")
        if self.kernel < 1 or self.kernel % 2 == 0:
            raise ValueError(f"cnn.kernel must be a positive odd number, got {self.kernel}")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"cnn.dropout must be in [0, 1), got {self.dropout}")


def conv_block(c_in: int, c_out: int, kernel: int, dropout: float) -> nn.Sequential:
    """conv (padded) -> batch norm -> ReLU -> 2x2 max pool [-> 2-D dropout]: halves H and W."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, padding=kernel // 2, bias=False),  # BN supplies the bias
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
        nn.MaxPool2d(2),
    ]
    if dropout:
        layers.append(nn.Dropout2d(dropout))
    return nn.Sequential(*layers)


class FrameEncoder(nn.Module):
    """Conv-BN-ReLU-pool blocks over (N, C, H, W); see the module docstring for the views it gives."""

    def __init__(self, in_channels: int, cfg: CNNConfig | None = None) -> None:
        super().__init__()
        cfg = cfg or CNNConfig()
        widths = (in_channels, *cfg.channels)
        pairs = zip(widths[:-1], widths[1:], strict=True)  # (in, out) channels of each block
        self.blocks = nn.Sequential(*(conv_block(a, b, cfg.kernel, cfg.dropout) for a, b in pairs))
        self.out_channels = cfg.channels[-1]
        self.downsample = 2 ** len(cfg.channels)

    def forward(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> feature map (N, F, H', W')."""
        if x.dim() != 4:
            raise ValueError(f"FrameEncoder takes images (N, C, H, W), got shape {tuple(x.shape)}")
        if min(x.shape[-2:]) < self.downsample:
            raise ValueError(
                f"images of {x.shape[-2]}x{x.shape[-1]} pixels are smaller than the {self.downsample}x downsampling "
                f"of {len(self.blocks)} blocks: use larger images or fewer cnn.channels"
            )
        return self.blocks(x)

    def regions(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, R, F): the feature map as R = H' * W' region vectors, row by row."""
        return self(x).flatten(2).transpose(1, 2)

    def pooled(self, x: Tensor) -> Tensor:
        """(N, C, H, W) -> (N, F): the feature map averaged over its positions."""
        return self(x).mean(dim=(2, 3))

    def over_time(self, frames: Tensor) -> Tensor:
        """(N, T, C, H, W) -> (N, T, F): every frame encoded by the same weights (one batch of N * T images)."""
        if frames.dim() != 5:
            raise ValueError(f"over_time takes clips (N, T, C, H, W), got shape {tuple(frames.shape)}")
        N, T = frames.shape[:2]
        return self.pooled(frames.flatten(0, 1)).view(N, T, -1)
