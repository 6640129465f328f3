"""Open-set identification evaluation (the LFW protocol of `facelens gallery evaluate`) on real
faces laid out like LFW (tests/data/gallery, see conftest.py)."""

from __future__ import annotations

import json

import pytest

from facelens.errors import BadInputError
from facelens.evaluation import identification as ei
from facelens.evaluation import verification as ev

TWO_PHOTOS = ["amy", "bernadette", "leonard", "penny", "raj", "sheldon"]


def test_protocol_enrols_the_first_photo_and_probes_the_rest(lfw_like):
    protocol = ei.build_protocol(lfw_like)
    assert sorted(protocol.enrol) == TWO_PHOTOS
    assert protocol.enrol["amy"] == ["amy/amy_0001.jpg"] and ("amy", "amy/amy_0002.jpg") in protocol.mated
    assert sorted(person for person, _ in protocol.unknown) == ["howard", "stuart", "table"]
    assert ei.build_protocol(lfw_like, enrol=2).enrol == {}  # nobody has a third photo to probe


def test_identification_and_its_calibration_entry(lfw_like, tmp_path):
    report = ei.run(lfw_like, cache=tmp_path / "cache.npz")
    assert (report["gallery_identities"], report["mated_probes"], report["nonmated_probes"]) == (6, 6, 3)
    assert report["rank1_accuracy"] == 1.0  # each of the six found by their second photo
    assert report["face_rule"] == ev.FACE_RULE
    # three unknowns and FPIR 1 %: none may reach the threshold, so it sits just above the best of them
    assert report["all_unknowns"]["fpir"] == 0.0
    path = ei.write_calibration(report, "pytest", path=tmp_path / "identification.json")
    entry = json.loads(path.read_text())["models"]["mobilefacenet"]["max"]
    assert entry["threshold"] == report["all_unknowns"]["threshold"] and entry["face_rule"] == ev.FACE_RULE
    assert entry["command"] == "pytest" and entry["mated_probes"] == 6


def test_a_folder_without_people_is_refused(tmp_path):
    with pytest.raises(BadInputError, match="no NAME/ folders"):
        ei.build_protocol(tmp_path)
