"""Persistent encrypted gallery and 1:N open-set identification.

    from facelens.gallery import Gallery, identify
    with Gallery("people.db") as g:                 # SQLite file, or a postgresql:// URL
        g.enrol("alice", ["alice1.jpg", "alice2.jpg"])
        for match in g.identify("crowd.jpg"):       # one per face; identity None = unknown
            print(match.box, match.identity, match.similarity)

Layout: store.py (tables, engine, migrations/), crypto.py (AES-GCM key handling), index.py
(exact / HNSW), audit.py (hash chain), identify.py (scoring + threshold), core.py (Gallery),
retention.py, cluster.py. See docs/gallery.md.
"""

from .audit import AuditEntry, AuditLog, AuditReport
from .core import Consent, EnrolRecord, Gallery, StoredTemplate, Template
from .identify import Candidate, Identification, identify

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
    "identify",
]
