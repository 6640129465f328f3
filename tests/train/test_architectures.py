from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from facelens.errors import BadInputError  # noqa: E402
from facelens.train.architectures import ARCHS, CnnBiLSTM, Seed002CNN, build, count_parameters  # noqa: E402
from facelens.train.augment import NONE  # noqa: E402
from facelens.train.trainer import InputSpec, to_tensor  # noqa: E402


def test_seed002_cnn_has_the_papers_parameter_count():
    model = Seed002CNN()
    assert count_parameters(model) == 363_655
    flat = model.features(torch.zeros(1, 1, 48, 48)).flatten(1)
    assert flat.shape[1] == 2048


@pytest.mark.parametrize("name", list(ARCHS))
def test_every_architecture_gives_logits(name):
    info = ARCHS[name]
    channels, size, classes = (1, (48, 48), 7) if info.task == "emotion" else (3, (40, 80), 2)
    model = build(name, classes, channels).eval()
    assert model(torch.zeros(3, channels, *size)).shape == (3, classes)


def test_bilstm_over_frame_sequences_with_attention():
    model = CnnBiLSTM(mode="frames", attention=True).eval()
    clip = torch.zeros(2, 5, 1, 48, 48)  # 2 clips × 5 frames
    assert model(clip).shape == (2, 7)


def test_unknown_architecture_is_a_clear_error():
    with pytest.raises(BadInputError, match="unknown architecture 'vgg99'"):
        build("vgg99", 7, 1)


def _loss_falls(model, spec, images, labels, steps=8, lr=3e-3):
    torch.manual_seed(0)
    x = to_tensor(spec, NONE(images, np.random.default_rng(0)))
    y = torch.from_numpy(labels)
    loss_fn = torch.nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()

    def measured():
        torch.manual_seed(1)  # same dropout mask before and after
        with torch.no_grad():
            return float(loss_fn(model(x), y))

    before = measured()
    for _ in range(steps):
        loss = loss_fn(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = measured()
    return before, after


@pytest.mark.parametrize("name", [n for n, a in ARCHS.items() if a.task == "emotion"])
def test_emotion_architectures_learn_on_real_fer_images(name, fer_set):
    torch.manual_seed(0)
    model = build(name, 7, 1)
    spec = InputSpec.fit(fer_set.images, "grey")
    # 4 images per class (a fixed rule: the first 4 file names of each class folder)
    index = np.concatenate([np.flatnonzero(fer_set.labels == c)[:4] for c in range(7)])
    before, after = _loss_falls(model, spec, fer_set.images[index], fer_set.labels[index])
    assert after < 0.9 * before, (before, after)


@pytest.mark.parametrize("name", [n for n, a in ARCHS.items() if a.task == "gender_eyes"])
def test_eye_architectures_learn_on_real_lfw_eye_crops(name, eye_set):
    torch.manual_seed(0)
    model = build(name, 2, 3)
    spec = InputSpec.fit(eye_set.images, "rgb")
    before, after = _loss_falls(model, spec, eye_set.images, eye_set.labels)
    assert after < 0.9 * before, (before, after)
