"""The seed papers' architectures and a stronger expression model, in plain PyTorch.

Every model maps an N×C×H×W float batch (already scaled and normalised, see ``ARCHS``) to
logits; softmax is applied by the consumer (the ONNX spec says ``"output": "logits"``).
No ImageNet weights exist offline, so the transfer models start from scratch (see
docs/training.md for which runs were pre-trained on what).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from ..errors import BadInputError


class Seed002CNN(nn.Module):
    """Seed 002 exactly: three valid 3×3 convs with 2×2 max-pools, 48 → 46 → 23 → 21 → 10 → 8 → 4.

    Unpadded convolutions are what make Flatten = 128 × 4 × 4 = 2048 and the parameter count
    363,655 (320 + 18,496 + 73,856 + 262,272 + 8,256 + 455).
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 32, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(inplace=True), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(2048, 128), nn.ReLU(inplace=True), nn.Dropout(0.3),
            nn.Linear(128, 64), nn.ReLU(inplace=True),
            nn.Linear(64, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.features(x))


def _conv_bn(cin: int, cout: int, stride: int = 1, groups: int = 1, act: bool = True) -> nn.Sequential:
    layers: list[nn.Module] = [
        nn.Conv2d(cin, cout, 3, stride, 1, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act:
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


class _AttentionPool(nn.Module):
    """Additive attention over time steps: softmax(w·tanh(Wh)) weighted sum."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.score = nn.Sequential(nn.Linear(dim, dim // 2), nn.Tanh(), nn.Linear(dim // 2, 1))

    def forward(self, h: torch.Tensor) -> torch.Tensor:  # N×T×D → N×D
        weights = torch.softmax(self.score(h), dim=1)
        return (weights * h).sum(dim=1)


class CnnBiLSTM(nn.Module):
    """Seed 001's CNN-BiLSTM.

    ``mode="rows"``: one image; a small CNN reduces 48×48 to a 12×12×C map whose 12 rows are the
    sequence read by the BiLSTM. ``mode="frames"``: an N×T×C×H×W clip; the CNN embeds each
    frame and the BiLSTM reads the T frame vectors. ``attention`` pools the sequence with
    additive attention instead of taking the two final hidden states.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1, mode: str = "rows",
                 attention: bool = False, hidden: int = 128, width: int = 16) -> None:
        super().__init__()
        if mode not in ("rows", "frames"):
            raise ValueError(f"mode must be 'rows' or 'frames', not {mode!r}")
        self.mode = mode
        self.cnn = nn.Sequential(
            _conv_bn(in_channels, width), _conv_bn(width, width), nn.MaxPool2d(2),
            _conv_bn(width, 2 * width), _conv_bn(2 * width, 2 * width), nn.MaxPool2d(2),
        )
        feat = 2 * width
        if mode == "rows":
            self.reduce = nn.Identity()
            step_dim = feat * 12  # 48 / 4 columns per row
        else:
            self.reduce = nn.AdaptiveAvgPool2d(1)
            step_dim = feat
        self.lstm = nn.LSTM(step_dim, hidden, batch_first=True, bidirectional=True)
        self.pool = _AttentionPool(2 * hidden) if attention else None
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(2 * hidden, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "rows":
            fmap = self.cnn(x)  # N×C×12×12
            seq = fmap.permute(0, 2, 1, 3).flatten(2)  # N×rows×(C·cols)
        else:
            n, t = x.shape[:2]
            fmap = self.reduce(self.cnn(x.flatten(0, 1)))  # (N·T)×C×1×1
            seq = fmap.flatten(1).view(n, t, -1)
        out, (h_n, _) = self.lstm(seq)
        if self.pool is not None:
            pooled = self.pool(out)
        else:
            pooled = torch.cat([h_n[0], h_n[1]], dim=1)
        return self.head(pooled)


class _ResBlock(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(_conv_bn(cin, cout, stride), _conv_bn(cout, cout, act=False))
        self.skip = (nn.Identity() if stride == 1 and cin == cout else
                     nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + self.skip(x), inplace=True)


class FacelensCNN(nn.Module):
    """The stronger expression model: a narrow ResNet (stem + 4 stages) for 48×48 grey.

    Sized for 2 CPU cores: no residual stage at full 48×48 resolution (the costly part of a
    plain ResNet here), about 0.7 M parameters and ~37 M multiply-adds per face, so an FER2013
    epoch takes minutes, not hours. Widen with ``width`` when compute allows.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1, width: int = 24) -> None:
        super().__init__()
        w = width
        self.stem = _conv_bn(in_channels, w)
        self.stages = nn.Sequential(
            _ResBlock(w, 2 * w, 2),  # 24
            _ResBlock(2 * w, 4 * w, 2),  # 12
            _ResBlock(4 * w, 8 * w, 2),  # 6
        )
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                                  nn.Linear(8 * w, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


class _InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = []
        if expand != 1:
            layers += [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True)]
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden), nn.ReLU6(inplace=True),
            nn.Conv2d(hidden, cout, 1, bias=False), nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.body(x)
        return x + out if self.residual else out


def _round8(value: float) -> int:
    return max(8, int(value + 4) // 8 * 8)


class MobileNetV2(nn.Module):
    """MobileNetV2 (Sandler et al. 2018) in plain torch with a small classification head.

    Seed 003 fine-tuned ImageNet MobileNetV2; here the backbone is trained from scratch (or from
    a checkpoint given to the trainer). ``width_mult`` < 1 and fewer repeats keep it CPU-sized.
    """

    # t (expansion), c (channels), n (repeats), s (stride) — the paper's table, repeats capped
    SETTINGS = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 3, 2), (6, 96, 2, 1),
                (6, 160, 2, 2), (6, 320, 1, 1))

    def __init__(self, num_classes: int = 2, in_channels: int = 3, width_mult: float = 0.5) -> None:
        super().__init__()
        cin = _round8(32 * width_mult)
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, cin, 3, 1, 1, bias=False), nn.BatchNorm2d(cin), nn.ReLU6(inplace=True)]
        for t, c, n, s in self.SETTINGS:
            cout = _round8(c * width_mult)
            for i in range(n):
                layers.append(_InvertedResidual(cin, cout, s if i == 0 else 1, t))
                cin = cout
        last = _round8(640 * width_mult)
        layers += [nn.Conv2d(cin, last, 1, bias=False), nn.BatchNorm2d(last), nn.ReLU6(inplace=True)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.2),
                                  nn.Linear(last, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class _InceptionBlock(nn.Module):
    """InceptionV3-style mixed block: 1×1, 1×1→3×3, 1×1→3×3→3×3 (factorised 5×5), pool→1×1."""

    def __init__(self, cin: int, branch: int) -> None:
        super().__init__()

        def cbr(a: int, b: int, k: int) -> nn.Sequential:
            return nn.Sequential(nn.Conv2d(a, b, k, padding=k // 2, bias=False), nn.BatchNorm2d(b),
                                 nn.ReLU(inplace=True))

        self.b1 = cbr(cin, branch, 1)
        self.b3 = nn.Sequential(cbr(cin, branch, 1), cbr(branch, branch, 3))
        self.b5 = nn.Sequential(cbr(cin, branch // 2, 1), cbr(branch // 2, branch, 3), cbr(branch, branch, 3))
        self.bp = nn.Sequential(nn.AvgPool2d(3, 1, 1), cbr(cin, branch, 1))
        self.out_channels = 4 * branch

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.b1(x), self.b3(x), self.b5(x), self.bp(x)], dim=1)


class InceptionSmall(nn.Module):
    """A CPU-sized InceptionV3-style network (stem + mixed blocks + reductions) for eye crops."""

    def __init__(self, num_classes: int = 2, in_channels: int = 3, branch: int = 16) -> None:
        super().__init__()
        self.stem = nn.Sequential(_conv_bn(in_channels, 32), _conv_bn(32, 32), nn.MaxPool2d(2))
        m1 = _InceptionBlock(32, branch)
        m2 = _InceptionBlock(m1.out_channels, 2 * branch)
        m3 = _InceptionBlock(m2.out_channels, 4 * branch)
        self.blocks = nn.Sequential(m1, nn.MaxPool2d(2), m2, nn.MaxPool2d(2), m3)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                                  nn.Linear(m3.out_channels, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks(self.stem(x)))


class FerVGG(nn.Module):
    """VGG-style expression net (after Pramerdorfer & Kampel 2016 and Khaireddin & Chen 2021, the
    VGG variants that reach 72-73 % on FER2013), narrowed for 2 CPU cores.

    Four stages of two 3×3 conv-BN-ReLU layers (``width`` × 1, 2, 4, 8 channels), a 2×2 max-pool
    after the first three, then global average pooling, dropout and one linear layer: no 4096-wide
    dense layers (most of the original's parameters and the first thing to over-fit on 28 k faces).
    Trained on 40×40 random crops of the 48×48 faces (``--crop 40``); global pooling lets the same
    weights run on any size, so the 10-crop wrapper (``TenCrop``) feeds it the 48×48 face.
    """

    def __init__(self, num_classes: int = 7, in_channels: int = 1, width: int = 32,
                 dropout: float = 0.4) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width, 8 * width)
        layers: list[nn.Module] = []
        cin = in_channels
        for i, cout in enumerate(widths):
            layers += [_conv_bn(cin, cout), _conv_bn(cout, cout)]
            if i < len(widths) - 1:
                layers.append(nn.MaxPool2d(2))
            cin = cout
        self.features = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout),
                                  nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class FerResNet(nn.Module):
    """ResNet-18-style expression net (two basic blocks per stage, ``width`` × 1, 2, 4, 8
    channels, strides 1, 2, 2, 2) for 40×40 crops; the ResNet counterpart of ``FerVGG``."""

    def __init__(self, num_classes: int = 7, in_channels: int = 1, width: int = 32) -> None:
        super().__init__()
        widths = (width, 2 * width, 4 * width, 8 * width)
        blocks: list[nn.Module] = []
        cin = width
        for i, cout in enumerate(widths):
            blocks += [_ResBlock(cin, cout, 1 if i == 0 else 2), _ResBlock(cout, cout, 1)]
            cin = cout
        self.stem = _conv_bn(in_channels, width)
        self.stages = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.3),
                                  nn.Linear(cin, num_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.stages(self.stem(x)))


def ten_crop_boxes(height: int, width: int, crop: int) -> list[tuple[int, int]]:
    """(top, left) of the five crops of ``TenCrop``: four corners, then the centre."""
    bottom, right = height - crop, width - crop
    return [(0, 0), (0, right), (bottom, 0), (bottom, right), (bottom // 2, right // 2)]


class TenCrop(nn.Module):
    """Test-time augmentation as part of the model: the four corner crops and the centre crop of
    ``crop``×``crop`` pixels, and their mirror images, through ``model``; the output is the log
    of the mean of the ten softmax distributions, so softmax(output) is the averaged prediction
    and the exported graph stays "logits" for the attribute code. ``crops=1``: centre crop only
    (the cheap evaluation of a crop-trained model)."""

    def __init__(self, model: nn.Module, crop: int, crops: int = 10) -> None:
        super().__init__()
        if crops not in (1, 10):
            raise ValueError(f"crops must be 1 (centre) or 10, not {crops}")
        self.model, self.crop, self.crops = model, crop, crops

    def views(self, x: torch.Tensor) -> torch.Tensor:
        """N×C×H×W → (V·N)×C×crop×crop, view-major (V = 1 or 10)."""
        c = self.crop
        boxes = ten_crop_boxes(x.shape[2], x.shape[3], c)
        if self.crops == 1:
            top, left = boxes[-1]
            return x[:, :, top:top + c, left:left + c]
        five = [x[:, :, top:top + c, left:left + c] for top, left in boxes]
        return torch.cat(five + [torch.flip(v, dims=[3]) for v in five], dim=0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(self.views(x))
        if self.crops == 1:
            return logits
        probs = torch.softmax(logits, dim=1).reshape(self.crops, x.shape[0], -1).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))


class FlipAverage(nn.Module):
    """Test-time augmentation for nets trained on whole images with flips (the eye band): the
    image and its mirror image through ``model``, output the log of the mean softmax (the same
    contract as ``TenCrop``)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        logits = self.model(torch.cat([x, torch.flip(x, dims=[3])], dim=0))
        probs = torch.softmax(logits, dim=1).reshape(2, x.shape[0], -1).mean(dim=0)
        return torch.log(probs.clamp_min(1e-12))


@dataclass(frozen=True)
class ArchInfo:
    name: str
    task: str  # "emotion" or "gender_eyes" (the default task it is meant for)
    builder: type
    kwargs: tuple = ()
    note: str = ""


ARCHS: dict[str, ArchInfo] = {
    a.name: a
    for a in (
        ArchInfo("seed002_cnn", "emotion", Seed002CNN, note="seed 002 CNN, 363,655 params"),
        ArchInfo("cnn_bilstm", "emotion", CnnBiLSTM, (("mode", "rows"),), "seed 001, rows of one image"),
        ArchInfo("cnn_bilstm_attn", "emotion", CnnBiLSTM, (("mode", "rows"), ("attention", True)),
                 "seed 001 with attention pooling"),
        ArchInfo("facelens_cnn", "emotion", FacelensCNN, note="narrow ResNet, the stronger model"),
        ArchInfo("fer_vgg", "emotion", FerVGG, note="VGG-style, 8 conv-BN layers 32-256 wide, for 40x40 crops"),
        ArchInfo("fer_vgg_wide", "emotion", FerVGG, (("width", 48),), "fer_vgg at 48-384 channels"),
        ArchInfo("fer_resnet", "emotion", FerResNet, note="ResNet-18-style, 32-256 channels, for 40x40 crops"),
        ArchInfo("mobilenetv2", "gender_eyes", MobileNetV2, note="seed 003 MobileNetV2 (from scratch)"),
        ArchInfo("inception_small", "gender_eyes", InceptionSmall,
                 note="seed 003 InceptionV3-style (from scratch)"),
    )
}


def build(name: str, num_classes: int, in_channels: int, **overrides) -> nn.Module:
    """A fresh model by architecture name; raises BadInputError naming the known ones."""
    try:
        info = ARCHS[name]
    except KeyError:
        raise BadInputError(f"unknown architecture {name!r}; known: {', '.join(ARCHS)}") from None
    kwargs = dict(info.kwargs)
    kwargs.update(overrides)
    return info.builder(num_classes=num_classes, in_channels=in_channels, **kwargs)


def count_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
