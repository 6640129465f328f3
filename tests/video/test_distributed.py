"""Ray: one actor per camera and one task per archive chunk, on a local Ray instance."""

from __future__ import annotations

import json

import pytest

ray = pytest.importorskip("ray", reason='Ray not installed (pip install "facelens[video]")')

from facelens.video.distributed import watch_archive, watch_streams  # noqa: E402
from facelens.video.linking import Linker  # noqa: E402
from facelens.video.watch import SourceSpec, WatchConfig  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, ignore_reinit_error=True)
    yield
    ray.shutdown()


def test_one_actor_per_camera_shares_the_watchlist(local_ray, watchlist, clips, tmp_path):
    alerts = tmp_path / "alerts.jsonl"
    linker = Linker()
    summary = watch_streams([SourceSpec(str(clips / "corridor.mp4"), "cam-a", "corridor"),
                             SourceSpec(str(clips / "lobby.mp4"), "cam-b", "lobby"),
                             SourceSpec(str(clips / "missing.mp4"), "cam-x")],
                            watchlist, WatchConfig(detect_every=3), alerts=[str(alerts)], linker=linker,
                            cpus_per_actor=0.5)
    cameras = {c.camera_id: c for c in summary.cameras}
    assert cameras["cam-a"].frames == 120 and cameras["cam-b"].frames == 90
    assert "no such file" in cameras["cam-x"].error
    written = [json.loads(line) for line in alerts.read_text().splitlines()]  # from the actors
    assert {(a["camera_id"], a["identity"]) for a in written} == {
        ("cam-a", "obama"), ("cam-a", "sheldon"), ("cam-b", "sheldon"), ("cam-b", "leonard")}
    assert {a.alert_id for a in summary.alerts} == {a["alert_id"] for a in written}
    assert [s.camera_id for s in linker.timeline("sheldon")] == ["cam-b", "cam-a"]


def test_archive_chunks_are_deduplicated_at_the_driver(local_ray, watchlist, clips):
    summary = watch_archive(str(clips / "corridor.mp4"), watchlist, WatchConfig(detect_every=3),
                            chunk_frames=50, camera_id="archive")
    (camera,) = summary.cameras
    assert camera.frames == 120 and camera.error is None
    # obama spans the chunk boundary at frame 50: two chunk tracks, one alert (cooldown)
    assert sorted(a.identity for a in summary.alerts) == ["obama", "sheldon"]


@pytest.mark.parametrize("cooldown, expected", [(1.0, 2), (30.0, 1)])
def test_archive_alerts_a_returning_face_again_after_the_cooldown(local_ray, clips, cooldown, expected):
    """presenter_pan.mp4 in chunks of 60 frames: the presenter is in the first and the last chunk.
    The driver's AlertManager is the in-process one (test_trust.py runs the same clip in-process)."""
    from facelens.video.identity import MemoryWatchlist

    presenter = MemoryWatchlist.from_images({"presenter": [clips / "enrol" / "presenter_f400.jpg"]})
    summary = watch_archive(str(clips / "presenter_pan.mp4"), presenter, WatchConfig(cooldown=cooldown),
                            chunk_frames=60, camera_id="archive")
    assert [a.identity for a in summary.alerts] == ["presenter"] * expected
