"""Persistent encrypted gallery and 1:N open-set identification.

    from facelens.gallery import Gallery
    from facelens.usecases.enrolment import enrol
    from facelens.usecases.identification import identify
    with Gallery("people.db") as g:                 # SQLite file, or a postgresql:// URL
        enrol(g, "alice", ["alice1.jpg", "alice2.jpg"])
        for match in identify(g, "crowd.jpg").faces:  # one per face; identity None = unknown
            print(match.box, match.identity, match.similarity)

Layout: store.py (tables, engine, migrations/), crypto.py (AES-GCM key handling), index.py
(exact / HNSW with a float16 re-rank table, encrypted index files), audit.py (hash chain),
repository.py + queries.py (writes and reads: the only code touching store, cipher and audit
log), index_cache.py (per-model in-process index kept in step with the database), pgvector.py
(opt-in on PostgreSQL: search inside the database with pgvector, vectors then in clear there),
core.py (the ``Gallery`` façade: templates and vectors in, identifications out), records.py,
retention.py, cluster.py. Thresholds and candidate scoring:
``facelens.match``. Images → faces: ``facelens.usecases``. See docs/gallery.md.
"""

from ..match import Candidate, Identification
from .audit import AuditEntry, AuditLog, AuditReport
from .core import Gallery
from .records import Consent, EnrolRecord, StoredTemplate, Template, check_name, model_version

__all__ = [
    "AuditEntry",
    "AuditLog",
    "AuditReport",
    "Candidate",
    "Consent",
    "EnrolRecord",
    "Gallery",
    "Identification",
    "StoredTemplate",
    "Template",
    "check_name",
    "identify",
    "model_version",
]


def __getattr__(name: str):
    if name == "identify":  # re-export of the top-level verb: facelens.identify(image, db=None, ...)
        from .. import identify

        return identify
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
