from __future__ import annotations

import shutil

import numpy as np
import pytest
from PIL import Image

from facelens.errors import BadInputError
from facelens.train.datasets import (EMOTIONS, EYE_SIZE, ImageSet, load_fer_csv, load_folder,
                                     person_of, write_fer_csv)


def test_folder_loader_reads_real_fer_images(fer_set):
    assert fer_set.images.shape == (70, 48, 48, 1)
    assert fer_set.images.dtype == np.uint8
    assert fer_set.classes == EMOTIONS  # FER2013 order, whatever the folder listing order
    assert fer_set.counts() == {c: 10 for c in EMOTIONS}
    assert fer_set.names[0].startswith("angry/")


def test_mixed_sizes_and_modes_are_normalised(tmp_path, fer_small):
    src = sorted((fer_small / "happy").glob("*.jpg"))[:3]
    for cls in ("happy", "sad"):
        (tmp_path / cls).mkdir()
    grey = Image.open(src[0])
    grey.resize((96, 80)).convert("RGB").save(tmp_path / "happy" / "a_rgb.png")
    grey.convert("RGBA").save(tmp_path / "happy" / "b_rgba.png")
    grey.convert("I;16").save(tmp_path / "sad" / "c_16bit.png")
    grey.resize((30, 30)).convert("P").save(tmp_path / "sad" / "d_palette.png")
    (tmp_path / "sad" / "notes.txt").write_text("not an image, ignored by suffix")
    data = load_folder(tmp_path)
    assert data.images.shape == (4, 48, 48, 1)
    rgb = load_folder(tmp_path, size=(40, 80), channels="rgb")
    assert rgb.images.shape == (4, 40, 80, 3)
    # an RGB copy of a grey image stays (almost) the same picture
    assert np.abs(data.images[1].astype(int) - np.asarray(grey)[..., None]).max() <= 1


def test_empty_class_folder_is_a_clear_error(tmp_path, fer_small):
    shutil.copytree(fer_small / "happy", tmp_path / "happy")
    (tmp_path / "sad").mkdir()
    with pytest.raises(BadInputError, match="'sad' holds no images"):
        load_folder(tmp_path)


def test_missing_folder_and_corrupt_image(tmp_path, fer_small):
    with pytest.raises(BadInputError, match="not a folder"):
        load_folder(tmp_path / "nope")
    (tmp_path / "happy").mkdir()
    (tmp_path / "happy" / "broken.jpg").write_bytes(b"\xff\xd8 not really a jpeg")
    with pytest.raises(BadInputError, match="not a readable image"):
        load_folder(tmp_path)


def test_fer_csv_round_trip_from_real_images(tmp_path, fer_set):
    path = tmp_path / "fer2013.csv"
    half = np.arange(len(fer_set)) % 2 == 0
    write_fer_csv(path, {"train": fer_set.subset(np.flatnonzero(half)),
                         "private-test": fer_set.subset(np.flatnonzero(~half))})
    parts = load_fer_csv(path)
    assert set(parts) == {"train", "private-test"}
    assert len(parts["train"]) == 35 and len(parts["private-test"]) == 35
    assert np.array_equal(parts["train"].images, fer_set.images[half])
    assert np.array_equal(parts["train"].labels, fer_set.labels[half])


def _csv(tmp_path, header: str, rows: list[str]):
    path = tmp_path / "bad.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_fer_csv_wrong_column(tmp_path, fer_set):
    pixels = " ".join(map(str, fer_set.images[0].ravel()))
    path = _csv(tmp_path, "label,pixels,Usage", [f"3,{pixels},Training"])
    with pytest.raises(BadInputError, match="missing column.*emotion"):
        load_fer_csv(path)


def test_fer_csv_wrong_pixel_length(tmp_path, fer_set):
    good = " ".join(map(str, fer_set.images[0].ravel()))
    short = " ".join(map(str, fer_set.images[1].ravel()[:-10]))
    path = _csv(tmp_path, "emotion,pixels,Usage", [f"3,{good},Training", f"4,{short},Training"])
    with pytest.raises(BadInputError, match=r"bad.csv:3: pixels holds 2294 values, expected 2304"):
        load_fer_csv(path)


def test_fer_csv_bad_label_and_usage(tmp_path, fer_set):
    good = " ".join(map(str, fer_set.images[0].ravel()))
    with pytest.raises(BadInputError, match="outside 0-6"):
        load_fer_csv(_csv(tmp_path, "emotion,pixels,Usage", [f"9,{good},Training"]))
    with pytest.raises(BadInputError, match="Usage 'Validation'"):
        load_fer_csv(_csv(tmp_path, "emotion,pixels,Usage", [f"1,{good},Validation"]))


def test_eye_crops_from_real_lfw_faces(eye_set):
    assert eye_set.classes == ("female", "male")
    assert len(eye_set) == 8  # the detector finds every one of the 8 faces
    assert eye_set.images.shape[1:] == (*EYE_SIZE, 3)
    assert eye_set.counts() == {"female": 4, "male": 4}
    assert set(eye_set.groups) == {person_of(n) for n in eye_set.names}
    # the crop is an eye band: darker (eyes, brows) in the middle rows than a flat grey patch
    assert eye_set.images.std() > 20


def test_eye_crop_cache(tmp_path, lfw_small, eye_set):
    from facelens.train.datasets import load_lfw_eyes

    calls = []

    def counting_detector(rgb):
        from facelens.train.datasets import _default_detector

        calls.append(1)
        return _default_detector()(rgb)

    cache = tmp_path / "eyes.npz"
    args = (lfw_small / "images", lfw_small / "female_names.txt", lfw_small / "male_names.txt")
    first = load_lfw_eyes(*args, detector=counting_detector, cache=cache)
    second = load_lfw_eyes(*args, detector=counting_detector, cache=cache)
    assert len(calls) == 8
    assert np.array_equal(first.images, second.images) and list(first.groups) == list(second.groups)


def test_imageset_checks():
    with pytest.raises(ValueError):
        ImageSet(np.zeros((2, 4, 4), np.uint8), np.zeros(2), ("a",))
