"""Evaluation use cases on the small real sets in tests/data: an LFW-layout folder made from
the tests/data/gallery photos (6 people with two photos, 2 with one), ORL eyes, FER2013 crops."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from PIL import Image

from facelens.errors import BadInputError
from facelens.usecases import evaluation as uc

TWO_PHOTOS = ("amy", "bernadette", "leonard", "penny", "raj", "sheldon")
ONE_PHOTO = ("howard", "stuart")
FEMALE = {"amy", "bernadette", "penny"}


@pytest.fixture(scope="module")
def lfw_like(data_dir, tmp_path_factory) -> Path:
    """NAME/NAME_000N.jpg as LFW names them, converted from the gallery test photos."""
    root = tmp_path_factory.mktemp("lfw")
    for person in TWO_PHOTOS + ONE_PHOTO:
        (root / person).mkdir()
        for number, source in enumerate(sorted((data_dir / "gallery").glob(f"{person}[0-9].png")), 1):
            Image.open(source).convert("RGB").save(root / person / f"{person}_{number:04d}.jpg", quality=95)
    return root


def test_identification_through_a_temporary_gallery(lfw_like, tmp_path):
    report = uc.evaluate_identification(lfw_like, cache=tmp_path / "cache.npz")
    assert (report["gallery_identities"], report["mated_probes"], report["nonmated_probes"]) == (6, 6, 2)
    assert report["rank1_accuracy"] == 1.0 and "calibration_file" not in report
    with pytest.raises(BadInputError, match="scoring must be max or mean"):
        uc.evaluate_identification(lfw_like, scoring="median")


def test_fairness_per_group(lfw_like, tmp_path):
    pairs = tmp_path / "pairs.txt"
    mated = [f"{p} 1 2" for p in TWO_PHOTOS]
    mismatched = [f"{a} 1 {b} 1" for a, b in zip(TWO_PHOTOS, TWO_PHOTOS[1:] + TWO_PHOTOS[:1])]
    pairs.write_text("\n".join(["1 6", *mated, *mismatched]) + "\n")
    groups = tmp_path / "groups.csv"
    groups.write_text("image,group\n" + "".join(
        f"{p}_{n:04d}.jpg,{'female' if p in FEMALE else 'male'}\n" for p in TWO_PHOTOS for n in (1, 2)))
    out = tmp_path / "fairness"
    report = uc.evaluate_fairness(pairs, lfw_like, groups, out=out, command="facelens eval fairness …")
    point = report["operating_points"]["far_1e-3"]
    assert point["threshold_source"] == "calibration/verification.json"
    assert point["groups"]["female"]["genuine_pairs"] == 3 and point["groups"]["male"]["genuine_pairs"] == 3
    assert point["groups"]["female"]["false_non_matches"] == 0  # same people, other photos: all matched
    assert json.loads((out / "report.json").read_text())["command"] == "facelens eval fairness …"
    assert "| female |" in (out / "table.md").read_text() == uc.fairness_table(report)
    given = uc.evaluate_fairness(pairs, lfw_like, groups, threshold=0.99, out=out)
    assert given["operating_points"]["given"]["groups"]["female"]["false_non_matches"] == 3


def test_blink_on_the_bundled_orl_subjects(data_dir, tmp_path):
    report = uc.evaluate_blink(data_dir / "access" / "orl", out=tmp_path)
    assert report["summary"]["iris"]["closed_detected"] == "3/3"
    assert json.loads((tmp_path / "report.json").read_text())["summary"] == report["summary"]


def test_emotion_and_gender(data_dir, tmp_path):
    seen = []
    emotion = uc.evaluate_emotion(data_dir / "attributes" / "fer2013", detector="skip", out=tmp_path / "emo",
                                  progress=lambda done, total: seen.append((done, total)))
    assert emotion["scored"] == 21 and emotion["per_class"]["happy"]["recall"] == 1.0
    assert seen[-1] == (21, 21) and (tmp_path / "emo" / "confusion.png").is_file()
    gender = uc.evaluate_gender(data_dir / "attributes" / "lfw", limit=3, out=tmp_path / "gen")
    assert gender["scored"] == 6 and gender["balanced_accuracy"] == 1.0 and gender["model"] == "gender_cydral"
    with pytest.raises(BadInputError, match="give both"):
        uc.evaluate_gender(data_dir / "attributes" / "lfw", female_names=tmp_path / "f.txt")


def test_folders_that_match_no_class_are_reported_not_skipped(data_dir, tmp_path):
    fer = data_dir / "attributes" / "fer2013"
    data = tmp_path / "faces"
    shutil.copytree(fer / "happy", data / "Happiness")  # other data sets' names for FER2013's classes
    shutil.copytree(fer / "surprise", data / "surprised")
    shutil.copytree(fer / "angry", data / "contempt")  # FER+'s eighth class: no class of the model
    report = uc.evaluate_emotion(data, detector="skip", out=tmp_path / "emo")
    assert report["unmapped_folders"] == {"contempt": 3} and report["model"] == "emotion_mini_xception"
    assert report["scored"] == 6 and set(report["per_class"]) == {"happy", "surprise"}
    assert report["per_class"]["happy"]["recall"] == 1.0
    assert json.loads((tmp_path / "emo" / "report.json").read_text())["unmapped_folders"] == {"contempt": 3}
    only_unmapped = tmp_path / "only"
    shutil.copytree(fer / "angry", only_unmapped / "contempt")
    with pytest.raises(BadInputError, match=r"no folder for class\(es\) angry, .* \(found: contempt\)"):
        uc.evaluate_emotion(only_unmapped, detector="skip", out=tmp_path / "none")

    lfw = tmp_path / "lfw"
    for name in ("female", "male"):
        shutil.copytree(data_dir / "attributes" / "lfw" / name, lfw / name)
    shutil.copytree(fer / "angry", lfw / "unknown")
    gender = uc.evaluate_gender(lfw, limit=1, out=tmp_path / "gen")
    assert gender["unmapped_folders"] == {"unknown": 3} and gender["scored"] == 2
    shutil.rmtree(lfw / "male")
    with pytest.raises(BadInputError, match="no folder for class\\(es\\) male"):
        uc.evaluate_gender(lfw, out=tmp_path / "gen")
