"""SIGKILL a real bulk-enrolment process at random moments; the gallery must stay consistent.

After each kill: the database opens, every identity whose commit was reported is there with all
its templates, no identity is half-written, the audit chain verifies, and the index (whose file
may be stale or half-saved) is repaired to exactly the database's templates on the next start,
with the owners and names that searches read from memory (a committed person is found by name).
Kill moments come from a fixed seed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import numpy as np
from sqlalchemy import func, select

from facelens.gallery import Gallery
from facelens.gallery.store import IdentityRow, TemplateRow

WORKER = r"""
import sys
import numpy as np
from facelens.gallery import EnrolRecord, Gallery, Template

db, seed = sys.argv[1], int(sys.argv[2])
rng = np.random.default_rng(seed)
with Gallery(db) as gallery:
    gallery.index_for("mobilefacenet")  # loaded, so every commit also patches it
    print("ready", flush=True)
    for batch in range(100000):
        records = [EnrolRecord(f"s{seed}-b{batch}-p{i}",
                               [Template(v, "mobilefacenet", "test", source="kill-test") for v in rng.normal(size=(3, 192))])
                   for i in range(4)]
        gallery.enrol_records(records)
        print(" ".join(r.name for r in records), flush=True)
        if batch % 3 == 0:
            gallery.flush()  # rewrite the index file now and then: a kill may land mid-save
"""

TEMPLATES_PER_PERSON = 3


def _kill_during_enrolment(db: str, seed: int, delay: float) -> list[str]:
    proc = subprocess.Popen([sys.executable, "-c", WORKER, db, str(seed)], stdout=subprocess.PIPE, text=True,
                            env=dict(os.environ))
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(delay)
    proc.send_signal(signal.SIGKILL)
    out, _ = proc.communicate(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return [name for line in out.splitlines() for name in line.split()]


def test_sigkill_during_bulk_enrolment_loses_nothing_committed(db_url):
    rng = np.random.default_rng(20261125)
    reported: list[str] = []
    for round_number in range(3):
        delay = float(rng.uniform(0.2, 1.5))
        reported += _kill_during_enrolment(db_url, round_number, delay)
        with Gallery(db_url) as gallery:
            with gallery.repository.store.read() as session:
                counts = dict(session.execute(
                    select(IdentityRow.name, func.count(TemplateRow.id))
                    .outerjoin(TemplateRow, TemplateRow.identity_id == IdentityRow.id).group_by(IdentityRow.name)
                ).all())
                db_ids = sorted(session.scalars(select(TemplateRow.id)).all())
            missing = set(reported) - set(counts)
            assert not missing, f"round {round_number}: committed identities lost: {sorted(missing)[:5]}"
            assert set(counts.values()) <= {TEMPLATES_PER_PERSON}, "half-written identity"
            report = gallery.audit.verify()
            assert report.ok, report.problems
            assert len(gallery.audit.entries(event="enrol")) == len(counts)
            index = gallery.index_for("mobilefacenet")
            assert sorted(index.keys().tolist()) == db_ids
            # the in-memory decision data came back too: owners and names, searched without the database
            for name, vectors in _sample_enrolled(round_number + 1, reported):
                found = gallery.search(list(vectors), "mobilefacenet", top_k=1)
                assert all(r.candidates[0].identity == name and r.similarity > 0.999 for r in found), name
        assert len(reported) > 0


def _sample_enrolled(rounds: int, reported: list[str]) -> list[tuple[str, np.ndarray]]:
    """A few committed identities with their vectors, regenerated from the workers' seeds."""
    committed, out = set(reported), []
    for seed in range(rounds):
        rng = np.random.default_rng(seed)
        for batch in range(100000):
            drawn = [(f"s{seed}-b{batch}-p{i}", rng.normal(size=(3, 192))) for i in range(4)]
            if drawn[0][0] not in committed:
                break
            if batch % 7 == 0:
                out.append(drawn[batch % 4])
    return out
