"""Clustering the faces nobody matched and promoting a cluster, on tests/data/gallery photos."""

from __future__ import annotations

import pytest

from facelens.errors import BadInputError, NotFoundError
from facelens.usecases.enrolment import enrol
from facelens.usecases.gallery import cluster_unknowns
from facelens.usecases.identification import identify

STRANGERS = ("amy1", "amy2", "penny1", "penny2")  # two people, two photos each, neither enrolled


@pytest.fixture
def gallery(data_dir, tmp_path, isolated_env):
    from facelens.gallery import Gallery

    with Gallery(tmp_path / "people.db") as g:
        enrol(g, "howard", [data_dir / "gallery" / "howard1.png"])
        for name in STRANGERS:
            assert identify(g, data_dir / "gallery" / f"{name}.png", record_unknown=True).faces[0].unknown
        yield g


def test_clusters_then_promotion(data_dir, gallery):
    found = cluster_unknowns(gallery, distance=0.5)
    assert sorted(len(c.unknown_ids) for c in found.clusters) == [2, 2] and found.promoted is None
    assert len(found.to_dict()["clusters"]) == 2
    promoted = cluster_unknowns(gallery, distance=0.5, promote=0, name="newcomer")
    assert promoted.promoted["templates"] == 2 and promoted.to_dict() == promoted.promoted
    matches = {identify(gallery, data_dir / "gallery" / f"{n}.png").faces[0].identity for n in STRANGERS}
    assert matches == {"newcomer", None}  # one person now known, the other still a stranger
    assert len(cluster_unknowns(gallery, distance=0.5).clusters) == 1  # promoted faces left the unknowns


def test_promotion_refusals(gallery):
    with pytest.raises(BadInputError, match="--promote needs --name"):
        cluster_unknowns(gallery, promote=0)
    with pytest.raises(NotFoundError, match="no cluster 5 \\(found 2\\)"):
        cluster_unknowns(gallery, distance=0.5, promote=5, name="x")
