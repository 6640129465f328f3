"""Track identity by voting over the best captures vs one-frame decisions, on real video."""

from __future__ import annotations

import base64
import os

import numpy as np
import pytest

from facelens.pipeline import detect_rgb, embed_faces
from facelens.usecases.enrolment import enrol
from facelens.video.identity import (PENDING, UNKNOWN, GalleryWatchlist, TrackIdentity,
                                     decide, single_frame, sticky)
from facelens.video.sources import open_source
from facelens.video.tracking import Tracker


@pytest.fixture(scope="module")
def lobby_tracks(clips):
    """Tracks of the lobby clip (sheldon, raj, leonard), every 2nd frame detected and embedded."""
    tracker = Tracker(max_age=10, keep_best=5)
    faces_by_track: dict[int, list] = {}
    with open_source(clips / "lobby.mp4") as source:
        for frame in source:
            if frame.index % 2:
                continue
            faces = embed_faces(frame.image, detect_rgb(frame.image, keep_crop=True, min_score=0.35))
            for face in tracker.update(faces, frame.index, frame.timestamp):
                faces_by_track.setdefault(face.attributes["track_id"], []).append(face)
    return tracker.flush(), faces_by_track


def test_track_decisions_on_the_lobby_clip(lobby_tracks, watchlist):
    tracks, _ = lobby_tracks
    decided = [decide(t.best_faces, watchlist) for t in sorted(tracks, key=lambda t: t.first_frame)]
    assert [d.state for d in decided] == ["sheldon", UNKNOWN, "leonard"]
    assert decided[1].best == "leonard" and decided[1].similarity < watchlist.threshold
    assert all(d.captures == 5 for d in decided)


def test_voting_beats_single_frames(lobby_tracks, watchlist):
    """Every single-frame decision is compared with the track's decision (the truth here)."""
    tracks, faces = lobby_tracks
    truth = {t.track_id: decide(t.best_faces, watchlist).state for t in tracks}
    frames = [(tid, single_frame(f, watchlist).state) for tid, fs in faces.items() for f in fs]
    wrong = sum(state != truth[tid] for tid, state in frames)
    assert wrong > 0  # single frames of the same person disagree with each other...
    for tid, fs in faces.items():  # ...while the track answer holds from its first decision on
        states = [decide(fs[: i + 1], watchlist).state for i in range(len(fs))]
        decided = [s for s in states if s != PENDING]
        assert len(set(decided[2:])) <= 1 and (not decided or decided[-1] == truth[tid])


def test_pending_until_enough_captures_and_sticky(lobby_tracks, watchlist):
    tracks, _ = lobby_tracks
    sheldon = min(tracks, key=lambda t: t.first_frame)
    assert decide(sheldon.best_faces[:1], watchlist).state == PENDING
    known = decide(sheldon.best_faces, watchlist)
    worse = TrackIdentity(UNKNOWN, 0.3, 1, 5, "sheldon")
    assert sticky(known, worse).state == "sheldon"
    other = TrackIdentity("leonard", 0.8, 5, 5, "leonard")
    assert sticky(known, other).state == "leonard"
    assert decide(sheldon.best_faces, watchlist, threshold=0.95).state == UNKNOWN


def test_gallery_watchlist_filters_by_list(tmp_path, monkeypatch, clips, manifest, lobby_tracks):
    gallery_module = pytest.importorskip("facelens.gallery")
    monkeypatch.setenv("FACELENS_KEY", base64.b64encode(os.urandom(32)).decode())
    tracks, _ = lobby_tracks
    with gallery_module.Gallery(tmp_path / "people.db") as gallery:
        for name, meta in (("sheldon", {"watchlist": "vip"}), ("leonard", {"watchlist": "staff,vip"}),
                           ("obama", {"watchlist": "staff"})):
            enrol(gallery, name, [clips / p for p in manifest["enrol"][name]], metadata=meta, face="largest")
        vip = GalleryWatchlist(gallery, "vip")
        assert vip.members == {"sheldon", "leonard"}
        staff = GalleryWatchlist(gallery, "staff")
        first = min(tracks, key=lambda t: t.first_frame)
        assert decide(first.best_faces, vip).state == "sheldon"
        assert decide(first.best_faces, staff).state == UNKNOWN  # sheldon is not on the staff list
        everyone = GalleryWatchlist(gallery)
        ranked = everyone.match(np.stack([f.embedding for f in first.best_faces]))
        assert all(r[0].identity == "sheldon" for r in ranked)
