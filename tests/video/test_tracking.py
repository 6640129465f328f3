"""Tracker on real detections from the corridor clip (obama walks in, sheldon joins)."""

from __future__ import annotations

import numpy as np
import pytest

from facelens.pipeline import detect_rgb, embed_faces
from facelens.video.sources import open_source
from facelens.video.tracking import Tracker, capture_score


@pytest.fixture(scope="module")
def detections(clips):
    """(frame index, timestamp, faces with embeddings) for the first 75 frames."""
    out = []
    with open_source(clips / "corridor.mp4", end_frame=75) as source:
        for frame in source:
            faces = detect_rgb(frame.image, keep_crop=True, min_score=0.35)
            out.append((frame.index, frame.timestamp, embed_faces(frame.image, faces)))
    return out


def run(tracker, detections, edit=lambda index, faces: faces):
    ids = []
    for index, timestamp, faces in detections:
        ids.append((index, tracker.update(edit(index, faces), index, timestamp)))
    return ids


def test_each_person_keeps_one_track(detections):
    tracker = Tracker(max_age=10)
    ids = run(tracker, detections)
    seen = {f.attributes["track_id"] for _, faces in ids for f in faces}
    assert len(seen) == 2  # obama, then sheldon
    finished = tracker.flush()
    assert sorted(t.track_id for t in finished) == sorted(seen)
    first = min(finished, key=lambda t: t.first_frame)
    assert first.hits > 40 and first.first_seen < first.last_seen
    assert 1 <= len(first.captures) <= 5 and first.embeddings.shape == (len(first.captures), 192)
    scores = [s for s, _ in first.captures]
    assert scores == sorted(scores, reverse=True)


def test_low_score_detections_continue_but_never_start_tracks(detections):
    def weaken(index, faces):  # frames 20-29: the detector is unsure about every face
        return [f.replace(score=0.45) for f in faces] if 20 <= index < 30 else faces

    tracker = Tracker(max_age=10)
    ids = run(tracker, detections, weaken)
    during = [f.attributes["track_id"] for index, faces in ids if 20 <= index < 30 for f in faces]
    before = {f.attributes["track_id"] for index, faces in ids if index < 20 for f in faces}
    assert during and set(during) <= before

    fresh = Tracker()
    assert fresh.update([f.replace(score=0.45) for f in detections[20][2]], 0, 0.0) == []
    assert not fresh.tracks


def test_occlusion_shorter_than_max_age_keeps_the_id(detections):
    def hide(index, faces):
        return [] if 30 <= index < 36 else faces

    tracker = Tracker(max_age=10)
    ids = run(tracker, detections, hide)
    obama_ids = {f.attributes["track_id"] for index, faces in ids if index < 30 or 36 <= index < 45
                 for f in faces if f.center[0] < 300}
    assert len(obama_ids) == 1

    short = Tracker(max_age=3)
    run(short, detections, hide)
    ended = [t for t in short.flush()]
    assert len(ended) >= 3  # the track ended during the gap and a new one began after it


def test_embedding_similarity_rescues_a_jump(detections):
    """A face that moves further than IoU can follow is re-associated by appearance."""
    index, timestamp, faces = detections[40]
    face = max(faces, key=lambda f: f.area)
    tracker = Tracker()
    (first,) = tracker.update([face], index, timestamp)
    shift = face.width * 0.9
    jumped = face.replace(box=(face.box[0] + shift, face.box[1], face.box[2] + shift, face.box[3]))
    (second,) = tracker.update([jumped], index + 1, timestamp + 0.07)
    assert second.attributes["track_id"] == first.attributes["track_id"]
    no_appearance = Tracker()
    no_appearance.update([face.replace(embedding=None)], index, timestamp)
    no_appearance.update([jumped.replace(embedding=None)], index + 1, timestamp + 0.07)
    assert len(no_appearance.tracks) == 2  # IoU alone loses it and starts a new track


def test_capture_score_prefers_large_sharp_frontal_faces(detections):
    faces = [f for _, _, fs in detections for f in fs if f.quality is not None]
    best = max(faces, key=capture_score)
    worst = min(faces, key=capture_score)
    assert best.quality.face_size > worst.quality.face_size or best.score > worst.score
    assert np.isfinite([capture_score(f) for f in faces]).all()


def test_stage_three_embeds_only_unmatched_faces_to_refind_a_track(detections):
    """Without embeddings up front, a face that jumped is embedded on demand and re-found."""
    index, timestamp, faces = detections[40]
    face = max(faces, key=lambda f: f.area)
    tracker = Tracker()
    (first,) = tracker.update([face], index, timestamp)  # the track learns its appearance
    shift = face.width * 0.9
    jumped = face.replace(embedding=None, box=(face.box[0] + shift, face.box[1], face.box[2] + shift, face.box[3]))
    asked = []

    def embed(batch):
        asked.extend(batch)
        return [f.replace(embedding=face.embedding) for f in batch]  # the real embedding of this face

    (second,) = tracker.update([jumped], index + 1, timestamp + 0.07, embed=embed)
    assert second.attributes["track_id"] == first.attributes["track_id"] and len(asked) == 1
    asked.clear()
    tracker.update([jumped.replace(embedding=None)], index + 2, timestamp + 0.13, embed=embed)
    assert asked == []  # matched by IoU: nothing embedded
