"""Gallery operations that are more than one Gallery method: clustering the unknown faces and
promoting a cluster to an identity.

List, show, delete, export, purge and the audit check are ``Gallery`` methods already
(``gallery.list()``, ``gallery.purge(...)``, ``gallery.audit.verify()``): callers use those.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Optional

from ..errors import BadInputError, NotFoundError
from ..constants import DEFAULT_MODEL


@dataclass(frozen=True)
class Clustering:
    """Clusters of faces that matched nobody (gallery.cluster.Cluster, largest first) and, when
    one was promoted, the enrolment it became."""

    clusters: list
    promoted: Optional[dict[str, Any]] = None

    def to_dict(self) -> dict[str, Any]:
        return self.promoted if self.promoted is not None else {"clusters": [c.to_dict() for c in self.clusters]}


def cluster_unknowns(gallery, *, model: str = DEFAULT_MODEL, method: str = "dbscan",
                     distance: Optional[float] = None, min_size: int = 2, k: Optional[int] = None,
                     promote: Optional[int] = None, name: Optional[str] = None) -> Clustering:
    """Cluster the unknown faces stored by ``identify --record-unknown``; ``promote``: enrol
    cluster number ``promote`` as identity ``name`` (its faces leave the unknowns)."""
    from ..gallery.cluster import cluster_unknowns as find_clusters
    from ..gallery.cluster import promote as promote_faces

    if promote is not None and not name:
        raise BadInputError("--promote needs --name")
    clusters = find_clusters(gallery, model, method, distance=distance, min_size=min_size, k=k)
    if promote is None:
        return Clustering(clusters)
    if not 0 <= promote < len(clusters):
        raise NotFoundError(f"no cluster {promote} (found {len(clusters)})")
    return Clustering(clusters, promote_faces(gallery, clusters[promote].unknown_ids, name, model))
