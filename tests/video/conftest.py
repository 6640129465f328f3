"""Fixtures for the video tests: the short clips in tests/data/video (see make_clips.py and
tests/data/PROVENANCE.md), a watchlist enrolled from other photos of the same people, and one
shared two-camera run that several tests inspect (the run costs a few seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from facelens.video.alerts import CallbackSink
from facelens.video.identity import MemoryWatchlist
from facelens.video.linking import Linker, TimelineStore
from facelens.video.watch import SourceSpec, WatchConfig, watch

VIDEO = Path(__file__).resolve().parents[1] / "data" / "video"


@pytest.fixture(scope="session")
def clips() -> Path:
    return VIDEO


@pytest.fixture(scope="session")
def manifest() -> dict:
    return json.loads((VIDEO / "clips.json").read_text())


@pytest.fixture(scope="session")
def watchlist(manifest) -> MemoryWatchlist:
    """obama, sheldon, leonard enrolled from photos that do not appear in the clips."""
    people = {name: [VIDEO / p for p in paths] for name, paths in manifest["enrol"].items()}
    return MemoryWatchlist.from_images(people)


@pytest.fixture(scope="session")
def two_cameras(watchlist, tmp_path_factory):
    """corridor.mp4 as camera cam-a and lobby.mp4 as cam-b, watched together."""
    folder = tmp_path_factory.mktemp("watch")
    received = []
    store = TimelineStore(folder / "timeline.db")
    linker = Linker(store)
    summary = watch(
        [SourceSpec(VIDEO / "corridor.mp4", "cam-a", "corridor"), SourceSpec(VIDEO / "lobby.mp4", "cam-b", "lobby")],
        watchlist, [CallbackSink(received.append)], WatchConfig(report_unknown=True, detect_every=2),
        out=folder / "annotated.mp4", linker=linker)
    store.close()
    return {"summary": summary, "alerts": received, "linker": linker, "folder": folder,
            "timeline": folder / "timeline.db"}
