"""LFW-style verification evaluation on real faces (tests/data/gallery laid out like LFW)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest

import facelens
from facelens.errors import BadInputError
from facelens.evaluation import verification as ev
from facelens.models.registry import MODELS, check

PAIRED = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon")  # two images each
needs_dlib = pytest.mark.skipif(check(MODELS["dlib"]) != "ok", reason="dlib weights not fetched")


@pytest.fixture(scope="module")
def lfw_like(data_dir, tmp_path_factory):
    """NAME/NAME_000i.jpg folders, a faceless image, and a 2-fold pairs file (3 + 3 per fold)."""
    root = tmp_path_factory.mktemp("lfw")
    for path in sorted((data_dir / "gallery").glob("*.png")):
        person, index = path.stem[:-1], int(path.stem[-1])
        if person == "howard":
            index = 2  # howard1.png is the second image of that face-api.js folder
        (root / person).mkdir(exist_ok=True)
        cv2.imwrite(str(root / person / f"{person}_{index:04d}.jpg"), cv2.imread(str(path)),
                    [cv2.IMWRITE_JPEG_QUALITY, 95])
    table = cv2.imread(str(data_dir / "faces" / "bbt1.jpg"))[450:]  # hands and table, no head
    (root / "table").mkdir()
    cv2.imwrite(str(root / "table" / "table_0001.jpg"), table)
    lines = ["2\t3",
             "amy\t1\t2", "bernadette\t1\t2", "leonard\t1\t2",
             "amy\t1\tpenny\t1", "raj\t1\tsheldon\t2", "leonard\t2\tstuart\t1",
             "penny\t1\t2", "raj\t1\t2", "sheldon\t1\t2",
             "bernadette\t2\tsheldon\t1", "penny\t2\ttable\t1", "amy\t2\traj\t2"]
    (root / "pairs.txt").write_text("\n".join(lines) + "\n")
    return root


def test_pairs_file_is_parsed_into_folds(lfw_like):
    pairs = ev.parse_pairs(lfw_like / "pairs.txt")
    assert len(pairs) == 12 and [p.fold for p in pairs] == [0] * 6 + [1] * 6
    assert pairs[0] == ev.Pair("amy/amy_0001.jpg", "amy/amy_0002.jpg", True, 0)
    assert pairs[5] == ev.Pair("leonard/leonard_0002.jpg", "stuart/stuart_0001.jpg", False, 0)


def test_bad_pairs_file_is_bad_input(tmp_path):
    (tmp_path / "short.txt").write_text("2\t3\namy\t1\t2\n")
    with pytest.raises(BadInputError, match="expected 12 pairs, found 1"):
        ev.parse_pairs(tmp_path / "short.txt")
    with pytest.raises(BadInputError, match="cannot read pairs file"):
        ev.parse_pairs(tmp_path / "absent.txt")


def test_embeddings_are_the_pipelines_own(lfw_like):
    """The evaluation embeds through facelens.pipeline: on one-face images its vector is
    exactly what facelens.embed returns."""
    names = ["amy/amy_0001.jpg", "raj/raj_0002.jpg"]
    embedded = ev.embed_images(lfw_like, names, ["mobilefacenet"])
    for row, name in zip(embedded.vectors["mobilefacenet"], names):
        (face,) = facelens.embed(lfw_like / name, face="largest")
        np.testing.assert_array_equal(row, face.embedding)
    assert embedded.fallbacks == 0


def test_faceless_image_falls_back_to_the_central_region(lfw_like):
    rgb = facelens.imageio.load_image(lfw_like / "table" / "table_0001.jpg", channels="rgb")
    face, fallback = ev.central_face(rgb)
    h, w = rgb.shape[:2]
    assert fallback and face.box == (w / 4, h / 4, 3 * w / 4, 3 * h / 4) and face.crop.shape == (112, 112, 3)
    face, fallback = ev.central_face(facelens.imageio.load_image(lfw_like / "amy" / "amy_0001.jpg", channels="rgb"))
    assert not fallback and face.detector == "blazeface_short"  # a tight crop: the near-face fallback


def test_evaluation_separates_people_and_writes_its_report(lfw_like, tmp_path):
    out = tmp_path / "eval"
    run = ev.evaluate_verification(lfw_like / "pairs.txt", lfw_like, model="mobilefacenet", out=out)
    report = run.reports["mobilefacenet"]
    assert report.pairs == 12 and report.roc_auc == 1.0  # every same-person pair above every other
    assert report.genuine_mean > 0.5 > report.impostor_mean
    assert run.summary["no_face_fallbacks"] == 1 and run.summary["images"] == 14
    assert json.loads((out / "report.json").read_text()) == run.summary
    assert (out / "roc.png").stat().st_size > 0 and run.calibration_file is None
    again = ev.evaluate_verification(lfw_like / "pairs.txt", lfw_like, model="mobilefacenet", out=out)
    assert again.summary["ms_per_image"] == {}  # every embedding came from the cache
    assert again.summary["reports"] == run.summary["reports"]


def test_bad_requests_are_refused_before_any_work(lfw_like, tmp_path):
    with pytest.raises(BadInputError, match="unknown model 'arcface': mobilefacenet, .* or all"):
        ev.evaluate_verification(lfw_like / "pairs.txt", lfw_like, model="arcface", out=tmp_path)
    with pytest.raises(BadInputError, match="--calibrate needs --model all"):
        ev.evaluate_verification(lfw_like / "pairs.txt", lfw_like, model="mobilefacenet", out=tmp_path,
                                 calibrate=True)
    with pytest.raises(BadInputError, match="not a folder"):
        ev.evaluate_verification(lfw_like / "pairs.txt", tmp_path / "absent", out=tmp_path)
    assert not (tmp_path / "report.json").exists()


@needs_dlib
def test_fused_weight_and_calibration_file(lfw_like, tmp_path):
    pairs = ev.parse_pairs(lfw_like / "pairs.txt")
    names = sorted({p.first for p in pairs} | {p.second for p in pairs})
    embedded = ev.embed_images(lfw_like, names, ["mobilefacenet", "dlib"], cache=tmp_path / "cache.npz")
    first, second = (ev.pair_scores(pairs, embedded, m) for m in ("mobilefacenet", "dlib"))
    scores, fused, weight, fold_weights = ev.fused_report(pairs, first, second)
    assert weight in ev.FUSION_GRID and len(fold_weights) == 2
    np.testing.assert_allclose(scores, weight * first + (1 - weight) * second)
    reports = {m: ev.evaluate(pairs, s, m) for m, s in (("mobilefacenet", first), ("dlib", second))}
    reports["fused"] = fused
    path = ev.write_calibration(reports, weight, "tests/data/gallery", "pytest", path=tmp_path / "calib.json")
    written = json.loads(path.read_text())
    assert written["fusion_weight"] == weight and set(written["models"]) == {"mobilefacenet", "dlib", "fused"}
    assert written["models"]["dlib"]["thresholds"]["far_1e-3"] == round(reports["dlib"].thresholds["far_1e-3"], 6)
