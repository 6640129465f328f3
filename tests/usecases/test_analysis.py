"""analyze (image, folder of frames) and the happiness report on real faces."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pytest
from PIL import Image

from facelens.errors import BadInputError, NoFaceError, NotFoundError
from facelens.usecases.analysis import (
    ImageAnalysis,
    VideoAnalysis,
    analyze_file,
    analyze_image,
    happiness_report,
    short_attributes,
)


def test_image_attributes_and_drawing(data_dir, tmp_path):
    drawn = tmp_path / "drawn.jpg"
    path = data_dir / "attributes" / "faceapi" / "happy.jpg"
    result = analyze_image(path, "emotion,gender,age", draw=drawn)
    (face,) = result.faces
    assert face.attributes["emotion"]["label"] == "happy" and isinstance(face.attributes["age"], float)
    assert Image.open(drawn).size == Image.open(path).size
    assert result.stored is None and result.to_dict()["image"] == str(path)
    assert short_attributes(face.attributes).startswith("happy ")


def test_no_face_is_empty_for_the_library_and_an_error_for_the_command(tmp_path):
    wall = np.full((120, 160, 3), 200, np.uint8)
    assert analyze_image(wall, channels="rgb").faces == []
    with pytest.raises(NoFaceError, match="wall: no face found; nothing analysed or stored"):
        analyze_image(wall, channels="rgb", label="wall", require_face=True)
    with pytest.raises(BadInputError, match="no such file"):
        analyze_file(tmp_path / "missing.jpg")


def test_stored_observations_feed_the_happiness_report(data_dir, tmp_path):
    db = str(tmp_path / "site.db")
    clip = data_dir / "video" / "corridor.mp4"  # obama, sheldon and penny walk through
    video = analyze_file(clip, "emotion", location="stage", start=datetime(2026, 3, 2, 9), db=db,
                         out=tmp_path / "tl", every=3)
    assert isinstance(video, VideoAnalysis) and video.frames == 120 and len(video.tracks) >= 2
    assert video.observations_stored > 0 and video.timeline_csv.is_file()
    assert video.to_dict()["observations_stored"] == video.observations_stored

    photo = analyze_file(data_dir / "attributes" / "faceapi" / "happy.jpg", "emotion", location="stage",
                         start=datetime(2026, 3, 2, 9, 30), db=db)
    assert isinstance(photo, ImageAnalysis) and photo.stored == 1

    report = happiness_report(["stage"], "hour", out=tmp_path / "rep", db=db)
    (row,) = report.stats
    assert row.people == len(video.tracks) + 1 and row.happy >= 1  # each track and the photo, once each
    assert report.csv_path.is_file()
    with pytest.raises(BadInputError, match="choose hour, day or week"):
        happiness_report(bucket="month", db=db)
    with pytest.raises(NotFoundError, match="unknown location 'moon'"):
        happiness_report(["moon"], db=db)


def test_video_checks_before_work(data_dir, tmp_path):
    frames = data_dir / "access" / "hamilton"  # a folder of frames is a video
    with pytest.raises(BadInputError, match="include emotion"):
        analyze_file(frames, "age", location="stage")
    with pytest.raises(BadInputError, match="give an .mp4"):
        analyze_file(frames, draw=tmp_path / "out.gif")
    with pytest.raises(BadInputError, match="non-empty"):
        analyze_file(frames, location=" ")


def test_chosen_models_are_checked_before_work(data_dir):
    """A model option is checked even when its action was not asked for: no typo goes unseen."""
    photo = data_dir / "attributes" / "faceapi" / "happy.jpg"
    with pytest.raises(BadInputError, match="unknown emotion model 'emotion_nope'"):
        analyze_image(photo, "age", emotion_model="emotion_nope")
    with pytest.raises(BadInputError, match="no model there"):
        analyze_file(data_dir / "access" / "hamilton", "emotion", gender_model="/nonexistent/my_gender")
    (face,) = analyze_image(photo, "gender,gender_eyes", gender_model="gender_eyes_facelens").faces
    assert face.attributes["gender"]["model"] == face.attributes["gender_eyes"]["model"] == "gender_eyes_facelens"
    assert face.attributes["gender"]["probs"] == face.attributes["gender_eyes"]["probs"]
