"""The watch pipeline on real faces: who alerts, on which camera, when; unknowns; outputs."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from facelens.detection.base import iou_matrix
from facelens.video.alerts import CallbackSink
from facelens.video.watch import SourceSpec, WatchConfig, watch

CAMERAS = {"cam-a": "corridor", "cam-b": "lobby"}


def visible(manifest, clip, person, inside=0.0):
    """(first, last) second at which the ground truth shows the person in the clip, counting
    frames where at least ``inside`` of the face box is within the 480×272 frame."""
    info = manifest["clips"][clip]
    frames = [t["frame"] for t in info["truth"] if t["person"] == person and _inside(t["box"]) >= inside]
    return min(frames) / info["fps"], max(frames) / info["fps"]


def _inside(box, width=480, height=272):
    x1, y1, x2, y2 = box
    cut = (min(x2, width) - max(x1, 0)) * (min(y2, height) - max(y1, 0))
    return max(cut, 0) / ((x2 - x1) * (y2 - y1))


def truth_at(manifest, clip, frame, box):
    rows = [t for t in manifest["clips"][clip]["truth"] if t["frame"] == frame]
    if not rows:
        return None
    overlap = iou_matrix(np.array([box]), np.array([t["box"] for t in rows]))[0]
    return rows[int(overlap.argmax())]["person"] if overlap.max() > 0.2 else None


def test_alerts_name_the_right_people_on_the_right_camera(two_cameras, manifest):
    matches = [a for a in two_cameras["alerts"] if a.kind == "match"]
    found = {(a.camera_id, a.identity) for a in matches}
    assert found == {("cam-a", "obama"), ("cam-a", "sheldon"), ("cam-b", "sheldon"), ("cam-b", "leonard")}
    assert len(matches) == 4  # de-duplicated: one alert per person and camera
    for alert in matches:
        assert alert.location == CAMERAS[alert.camera_id]
        assert alert.similarity >= 0.5
        assert alert.snapshot[:2] == b"\xff\xd8"  # a JPEG
        clip = CAMERAS[alert.camera_id]
        assert truth_at(manifest, clip, alert.frame, alert.box) == alert.identity


def test_alert_timing_matches_when_the_person_is_in_view(two_cameras, manifest):
    for alert in (a for a in two_cameras["alerts"] if a.kind == "match"):
        clip = CAMERAS[alert.camera_id]
        first, last = visible(manifest, clip, alert.identity)
        fps = manifest["clips"][clip]["fps"]
        assert first - 0.01 <= alert.first_seen <= alert.last_seen <= last + 0.01
        assert alert.frame / fps == pytest.approx(alert.last_seen, abs=1 / fps + 1e-6)
        whole, _ = visible(manifest, clip, alert.identity, inside=0.9)
        assert alert.first_seen - whole < 1.0  # recognised soon after the face is in view
        assert alert.first_seen_utc < alert.last_seen_utc or alert.first_seen == alert.last_seen


def test_unknown_person_is_reported_only_as_unknown(two_cameras, manifest):
    unknown = [a for a in two_cameras["alerts"] if a.kind == "unknown"]
    assert len(unknown) == 1
    alert = unknown[0]  # sent when the track ended, on its final decision
    assert alert.identity is None and alert.camera_id == "cam-b"
    first, last = visible(manifest, "lobby", "raj")  # raj is not enrolled
    assert first <= alert.first_seen and alert.last_seen <= last + 0.5  # + the tracking tail
    assert alert.similarity < 0.5 and alert.snapshot[:2] == b"\xff\xd8"


def test_unknowns_are_not_reported_unless_asked(watchlist, clips):
    received = []
    watch([SourceSpec(clips / "lobby.mp4", "cam-b")], watchlist, [CallbackSink(received.append)],
          WatchConfig(detect_every=3))
    assert {a.identity for a in received} == {"sheldon", "leonard"}
    assert all(a.kind == "match" for a in received)


def test_summary_and_annotated_video(two_cameras, manifest):
    summary = two_cameras["summary"].to_dict()
    by_camera = {c["camera_id"]: c for c in summary["cameras"]}
    assert by_camera["cam-a"]["frames"] == manifest["clips"]["corridor"]["frames"]
    assert by_camera["cam-b"]["frames"] == manifest["clips"]["lobby"]["frames"]
    # corridor: obama, sheldon and (since the tiled pass, issue 17) penny entering at the bottom edge
    assert by_camera["cam-a"]["tracks"] in (2, 3) and by_camera["cam-b"]["tracks"] == 3
    assert summary["alerts"] == 4 and summary["unknown_alerts"] == 1
    assert all(c["error"] is None and c["fps"] > 0 for c in summary["cameras"])
    assert by_camera["cam-a"]["detection_frames"] < by_camera["cam-a"]["frames"]  # tracking in between
    for camera, clip in CAMERAS.items():
        path = two_cameras["folder"] / f"annotated_{camera}.mp4"
        capture = cv2.VideoCapture(str(path))
        assert int(capture.get(cv2.CAP_PROP_FRAME_COUNT)) == manifest["clips"][clip]["frames"]
        capture.release()


def test_faces_between_detections_follow_the_person(watchlist, clips, manifest):
    """Frames without detection carry flow-propagated boxes that still cover the person."""
    shown = []
    watch([clips / "corridor.mp4"], watchlist, config=WatchConfig(detect_every=4),
          on_frame=lambda frame, faces: shown.append((frame.index, faces)))
    hits = [truth_at(manifest, "corridor", index, face.box) == "obama"
            for index, faces in shown for face in faces
            if face.detector == "flow" and face.attributes.get("identity") == "obama"]
    assert len(hits) > 10
    # The clip's faces vanish at once (no walking out), so up to N-1 propagated boxes after the
    # vanishing frame cover nobody until the next detection ends the track.
    assert sum(hits) >= 0.9 * len(hits)


def test_real_stage_video_recognises_the_lead(clips, manifest):
    """A cut of a real stage video: Lin-Manuel Miranda (enrolled from a portrait) is recognised
    on his close-up; nobody else on stage is named."""
    from facelens.video.identity import MemoryWatchlist

    wl = MemoryWatchlist.from_images({"lin-manuel-miranda": [clips / "enrol" / "lin-manuel-miranda.jpg"],
                                      "alex-lacamoire": [clips / "enrol" / "alex-lacamoire.jpg"]})
    received = []
    summary = watch([SourceSpec(clips / "hamilton_excerpt.mp4", "stage", "theatre")], wl,
                    [CallbackSink(received.append)], WatchConfig(detect_every=2))
    assert summary.cameras[0].frames == manifest["hamilton"]["frames"]
    (alert,) = received
    assert alert.identity == "lin-manuel-miranda" and alert.location == "theatre"
    assert 0.3 < alert.first_seen < 1.0  # the close-up starts 0.5 s into the excerpt


def test_cadence_detects_less_often_when_detection_is_expensive():
    from facelens.video.watch import Cadence

    cheap = Cadence(None, target_fps=25, max_every=6)
    for _ in range(10):
        cheap.record(True, 0.010)  # 10 ms detection fits in a 40 ms frame budget
    assert cheap.every == 1
    loaded = Cadence(None, target_fps=25, max_every=6)
    for _ in range(20):
        loaded.record(loaded.due(), 0.120 if loaded.due() else 0.010)
    # (120 + (N-1)·10)/N ≤ 40 ms  →  N ≥ 3.67  →  4
    assert loaded.every == 4
    hopeless = Cadence(None, target_fps=25, max_every=6)
    hopeless.record(True, 0.5)
    hopeless.record(False, 0.05)  # even tracking alone misses the budget
    assert hopeless.every == 6
    fixed = Cadence(3, target_fps=25, max_every=6)
    pattern = []
    for _ in range(7):
        pattern.append(fixed.due())
        fixed.record(pattern[-1], 0.2)
    assert pattern == [True, False, False, True, False, False, True]
