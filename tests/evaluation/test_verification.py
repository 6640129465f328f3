"""LFW-style verification evaluation on real faces (tests/data/gallery laid out like LFW)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import facelens
from facelens.errors import BadInputError
from facelens import pipeline
from facelens.evaluation import verification as ev
from facelens.models.registry import MODELS, check

PAIRED = ("amy", "bernadette", "howard", "leonard", "penny", "raj", "sheldon")  # two images each
needs_dlib = pytest.mark.skipif(check(MODELS["dlib"]) != "ok", reason="dlib weights not fetched")


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
    face, how = ev.central_face(rgb)
    h, w = rgb.shape[:2]
    assert how == "no_face" and face.box == (w / 4, h / 4, 3 * w / 4, 3 * h / 4) and face.crop.shape == (112, 112, 3)
    face, how = ev.central_face(facelens.imageio.load_image(lfw_like / "amy" / "amy_0001.jpg", channels="rgb"))
    assert how == "central" and face.detector == "blazeface_short"  # a tight crop: the near-face fallback


AISHWARYA = "attributes/lfw/female/Aishwarya_Rai_0001.jpg"  # LFW: the subject centred, a bystander at the right edge


def test_the_centred_person_is_chosen_not_a_bystander(data_dir):
    rgb = facelens.imageio.load_image(data_dir / AISHWARYA, channels="rgb")
    faces = pipeline.detect_rgb(rgb)
    assert len(faces) == 2 and sum(ev.covers_centre(f, rgb.shape) for f in faces) == 1
    face, how = ev.central_face(rgb)
    assert how == "central" and ev.covers_centre(face, rgb.shape)
    assert 90 < face.width < 130 and face.crop.shape == (112, 112, 3)  # the subject (~110 px), not the 43-px bystander


def test_a_missed_subject_is_found_again_in_the_central_window(data_dir, monkeypatch):
    """The LFW failure (11 View 2 images: the full-range model finds only a bystander) on a real
    image: the whole-image pass is made to return only the bystander it really detects, and the
    central window, searched again, gives back the subject in whole-image coordinates."""
    rgb = facelens.imageio.load_image(data_dir / AISHWARYA, channels="rgb")
    real = pipeline.detect_rgb
    subject = next(f for f in real(rgb) if ev.covers_centre(f, rgb.shape))

    def bystander_only(image, *args, **kwargs):
        faces = real(image, *args, **kwargs)
        return [f for f in faces if not ev.covers_centre(f, image.shape)] if image.shape == rgb.shape else faces

    monkeypatch.setattr(pipeline, "detect_rgb", bystander_only)
    face, how = ev.central_face(rgb)
    assert how == "central_crop"
    np.testing.assert_allclose(face.box, subject.box, atol=6)  # the same face, detected in a smaller window
    for name, (x, y) in face.keypoints.items():
        assert np.hypot(x - subject.keypoints[name][0], y - subject.keypoints[name][1]) < 6, name
    monkeypatch.setattr(ev, "_detect_in_central_window", lambda image, detector: None)
    face, how = ev.central_face(rgb)  # nothing central anywhere: the detection nearest the centre
    assert how == "nearest" and face.box[0] > 190


@pytest.mark.dataset
def test_lfw_images_whose_subject_the_detector_missed(shared_data):
    """The 11 LFW View 2 images where BlazeFace's full-range model finds only a bystander: each
    now yields a face holding the image centre, found in the central window."""
    images = shared_data / "lfw" / "images"
    for name in ("Aldo_Paredes_0002", "Dick_Devine_0001", "Elena_de_Chavez_0001", "Erika_Harold_0003",
                 "Hamid_Karzai_0019", "Hugo_Chavez_0033", "JP_Suarez_0001", "Julio_Rossi_0001",
                 "Mark_Hurlbert_0004", "Patrick_Leahy_0001", "Rick_Pitino_0004"):
        rgb = facelens.imageio.load_image(images / name.rsplit("_", 1)[0] / f"{name}.jpg", channels="rgb")
        face, how = ev.central_face(rgb)
        assert how == "central_crop" and ev.covers_centre(face, rgb.shape) and face.width > 75, name


def test_cache_reembeds_only_images_whose_face_changed(lfw_like, tmp_path):
    names = ["amy/amy_0001.jpg", "raj/raj_0002.jpg", "table/table_0001.jpg"]
    cache = tmp_path / "cache.npz"
    first = ev.embed_images(lfw_like, names, ["mobilefacenet"], cache=cache)
    assert first.embedded == {"mobilefacenet": 3} and first.choices == {"central": 2, "central_crop": 0,
                                                                       "nearest": 0, "no_face": 1}
    assert ev.embed_images(lfw_like, names, ["mobilefacenet"], cache=cache).embedded == {}
    stored = dict(np.load(cache))
    stored["face_rule"] = np.array("an-older-rule")
    stored["boxes"][1] += 20  # as if the older rule had chosen another face in raj_0002
    np.savez(cache, **stored)
    again = ev.embed_images(lfw_like, names, ["mobilefacenet"], cache=cache)
    assert again.embedded == {"mobilefacenet": 1}  # every image detected again, one embedded again
    np.testing.assert_array_equal(again.vectors["mobilefacenet"], first.vectors["mobilefacenet"])
    del stored["boxes"], stored["choices"]  # a cache from before faces were stored: rebuilt
    np.savez(cache, **stored)
    assert ev.embed_images(lfw_like, names, ["mobilefacenet"], cache=cache).embedded == {"mobilefacenet": 3}


def test_fused_mode_comes_from_its_cached_parts_without_embedding_again(lfw_like, tmp_path):
    names = ["amy/amy_0001.jpg", "raj/raj_0002.jpg"]
    cache = tmp_path / "cache.npz"
    ev.embed_images(lfw_like, names, ["mobilefacenet", "faceres"], cache=cache)
    derived = ev.embed_images(lfw_like, names, ["fused_faceres"], cache=cache)
    assert derived.embedded == {}  # both parts were cached: nothing embedded again
    live = ev.embed_images(lfw_like, names, ["fused_faceres"])  # no cache: the fused embedder itself
    assert live.embedded == {"fused_faceres": 2}
    np.testing.assert_allclose(derived.vectors["fused_faceres"], live.vectors["fused_faceres"], atol=1e-5)
    stored = dict(np.load(cache))
    stored["fused_faceres"] = np.zeros_like(derived.vectors["fused_faceres"])  # a stale cached fused vector
    np.savez(cache, **stored)
    again = ev.embed_images(lfw_like, names, ["fused_faceres"], cache=cache)
    np.testing.assert_allclose(again.vectors["fused_faceres"], live.vectors["fused_faceres"], atol=1e-5)


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
