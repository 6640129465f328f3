"""Cluster faces that matched nobody, and promote a cluster to a new identity.

DBSCAN (default; needs no cluster count and leaves outliers unclustered) or agglomerative
(average linkage, cut at a cosine distance) from scikit-learn, and K-means as an option
because the seed paper names it (it must be told k and puts every face somewhere).
Embeddings are L2-normalised, so cosine distance = 1 − similarity; ``eps``/``distance``
defaults come from the identification threshold (two faces closer than a match are one person).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ..constants import DEFAULT_MODEL
from ..errors import BadInputError, NotFoundError
from ..match import identification_threshold
from .records import EnrolRecord, Template, model_version

if TYPE_CHECKING:
    from .core import Gallery

Method = Literal["dbscan", "agglomerative", "kmeans"]


@dataclass(frozen=True)
class Cluster:
    label: int
    unknown_ids: list[int]
    cohesion: float  # mean similarity of members to the cluster centre

    def to_dict(self) -> dict[str, Any]:
        return {"cluster": self.label, "size": len(self.unknown_ids), "unknown_ids": self.unknown_ids,
                "cohesion": round(self.cohesion, 4)}


def labels_for(vectors: np.ndarray, method: Method = "dbscan", *, distance: float = 0.5,
               min_size: int = 2, k: int | None = None, seed: int = 0) -> np.ndarray:
    """Cluster label per vector (−1: not in any cluster)."""
    if len(vectors) == 0:
        return np.empty(0, dtype=int)
    if method == "dbscan":
        from sklearn.cluster import DBSCAN

        return DBSCAN(eps=distance, min_samples=min_size, metric="cosine").fit_predict(vectors)
    if method == "agglomerative":
        from sklearn.cluster import AgglomerativeClustering

        if len(vectors) < 2:
            return np.full(len(vectors), -1)
        labels = AgglomerativeClustering(n_clusters=None, metric="cosine", linkage="average",
                                         distance_threshold=distance).fit_predict(vectors)
        sizes = np.bincount(labels)
        return np.where(sizes[labels] >= min_size, labels, -1)
    if method == "kmeans":
        from sklearn.cluster import KMeans

        if not k or k < 1:
            raise BadInputError("kmeans needs the number of clusters (k)")
        k = min(k, len(vectors))
        return KMeans(n_clusters=k, n_init=10, random_state=seed).fit_predict(vectors)
    raise BadInputError(f"unknown clustering method {method!r}; use dbscan, agglomerative or kmeans")


def cluster_unknowns(gallery: "Gallery", model: str = DEFAULT_MODEL, method: Method = "dbscan", *,
                     distance: float | None = None, min_size: int = 2, k: int | None = None) -> list[Cluster]:
    """Clusters of the stored unknown faces, largest first; labels are stable for the same data."""
    ids, vectors = gallery.unknowns(model)
    if distance is None:
        distance = max(0.05, 1.0 - identification_threshold(model, "max")[0])
    labels = labels_for(vectors, method, distance=distance, min_size=min_size, k=k)
    clusters = []
    for label in sorted(set(labels.tolist()) - {-1}):
        members = labels == label
        centre = vectors[members].mean(axis=0)
        centre /= max(np.linalg.norm(centre), 1e-12)
        clusters.append((ids[members].tolist(), float((vectors[members] @ centre).mean())))
    clusters.sort(key=lambda c: (-len(c[0]), c[0][0]))
    return [Cluster(i, members, cohesion) for i, (members, cohesion) in enumerate(clusters)]


def promote(gallery: "Gallery", unknown_ids: list[int], name: str, model: str = DEFAULT_MODEL,
            metadata: dict | None = None, consent: Any = None,
            images: dict[int, bytes] | None = None) -> dict[str, Any]:
    """Enrol the given unknown faces as a new identity and remove them from the unknowns.

    ``images`` maps an unknown face's id to its picture (JPEG), kept as the new template's face
    image (the server keeps pictures of unknown faces: their alerts' snapshots)."""
    all_ids, vectors = gallery.unknowns(model)
    wanted = np.isin(all_ids, np.asarray(unknown_ids, dtype=np.int64))
    if not unknown_ids or wanted.sum() != len(set(unknown_ids)):
        raise NotFoundError("some of those unknown faces do not exist (cluster again?)")
    version = model_version(model)
    templates = [Template(vector=v, model=model, model_version=version, source=f"unknown:{i}",
                          image=(images or {}).get(i))
                 for i, v in zip(all_ids[wanted].tolist(), vectors[wanted])]
    result = gallery.enrol_records([EnrolRecord(name, templates, dict(metadata or {}, promoted_from="cluster"), consent)])[0]
    gallery.forget_unknowns(unknown_ids, ("cluster.promote", name, {"unknown_faces": len(unknown_ids)}))
    return result
