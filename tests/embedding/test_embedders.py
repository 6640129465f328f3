"""Every embedding backend separates the same person from different people on real photos."""

from __future__ import annotations

import numpy as np
import pytest

import facelens
from facelens.embedding import get_embedder
from facelens.errors import BadInputError
from facelens.models.registry import MODELS, check
from facelens.verification import threshold

needs_dlib = pytest.mark.skipif(
    check(MODELS["dlib"]) != "ok",
    reason="dlib ResNet weights not fetched (run `facelens models fetch`)",
)


def embeddings(data_dir, model):
    names = ("obama.jpg", "obama2.jpg", "biden.jpg")
    return [facelens.embed(data_dir / "faces" / n, model=model, face="largest")[0].embedding for n in names]


@pytest.mark.parametrize("model", [
    "mobilefacenet", "mobilefacenet_noflip", pytest.param("dlib", marks=needs_dlib),
    "faceres", pytest.param("fused", marks=needs_dlib), "fused_faceres",
    "mobilefacenet_mesh", "faceres_mesh", "fused_faceres_mesh"])
def test_same_person_closer_than_different(data_dir, model):
    obama, obama2, biden = embeddings(data_dir, model)
    dim = {"mobilefacenet": 192, "mobilefacenet_noflip": 192, "dlib": 128, "faceres": 1024, "fused": 320,
           "fused_faceres": 1216, "mobilefacenet_mesh": 192, "faceres_mesh": 1024, "fused_faceres_mesh": 1216}[model]
    assert obama.shape == (dim,) and obama.dtype == np.float32
    assert abs(np.linalg.norm(obama) - 1) < 1e-4
    same, different = float(obama @ obama2), float(obama @ biden)
    limit, _ = threshold(model)  # each backend has its own similarity scale
    assert same > limit > different, (same, limit, different)


def test_flip_augmentation_is_deterministic_and_helps_symmetry(data_dir):
    from facelens.alignment import align
    from facelens.imageio import load_image

    rgb = load_image(data_dir / "faces" / "obama.jpg")
    (face,) = facelens.detect(rgb, channels="rgb")
    crop = align(rgb, face)
    net = get_embedder("mobilefacenet")
    a = net.embed_crops([crop])[0]
    mirrored = net.embed_crops([np.ascontiguousarray(crop[:, ::-1])])[0]
    assert float(a @ mirrored) > 0.999  # crop + mirror summed: mirror-invariant by construction


def test_batch_of_many_faces_matches_one_by_one(data_dir):
    from facelens.imageio import load_image
    from facelens.pipeline import detect_rgb

    rgb = load_image(data_dir / "faces" / "bbt4.jpg")
    faces = detect_rgb(rgb, keep_crop=True)
    net = get_embedder("mobilefacenet")
    together = net.embed(rgb, faces)
    alone = np.stack([net.embed(rgb, [f])[0] for f in faces])
    assert together.shape == (6, 192) and np.allclose(together, alone, atol=1e-5)
    sims = together @ together.T
    assert (sims[~np.eye(6, dtype=bool)] < 0.5).all()  # six different people


def test_noflip_pairs_faces_and_stays_close_to_the_flipped_vectors(data_dir):
    from facelens.imageio import load_image
    from facelens.pipeline import detect_rgb

    rgb = load_image(data_dir / "faces" / "bbt4.jpg")
    faces = detect_rgb(rgb, keep_crop=True)
    fast, flipped = get_embedder("mobilefacenet_noflip"), get_embedder("mobilefacenet")
    together = fast.embed(rgb, faces)  # six faces in three calls, two different faces per call
    alone = np.stack([fast.embed(rgb, [f])[0] for f in faces])
    assert together.shape == (6, 192) and np.allclose(together, alone, atol=1e-5)
    same_face = np.einsum("ij,ij->i", together, flipped.embed(rgb, faces))
    assert (same_face > 0.9).all(), same_face  # the same network; the mirror only averages


def test_unknown_model():
    with pytest.raises(BadInputError, match="unknown embedding model"):
        get_embedder("arcface")
