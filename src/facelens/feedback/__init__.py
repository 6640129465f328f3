"""Reviewer feedback that changes matching: negative templates from ``wrong_person`` reviews.

When a reviewer says an alert named the wrong person, the stranger's face (the averaged track
embedding that matched) is kept, encrypted, as a *negative template* of the identity it was
mistaken for. At match time ``filter_candidates`` drops that identity for a probe that is the
same stranger again (see negatives.py for the guard that keeps the real person matching).

    from facelens.feedback import NegativeTemplates, FeedbackWatchlist
    negatives = NegativeTemplates(gallery)
    watchlist = FeedbackWatchlist(GalleryWatchlist(gallery), negatives)   # a video watchlist

Any matcher can call the hook: ``negatives.filter(model, probe, candidates)`` with candidates
as ``(identity, similarity)`` pairs or objects with ``.identity``/``.similarity``.
"""

from .negatives import FeedbackWatchlist, NegativeTemplates, filter_candidates, suppressed

__all__ = ["FeedbackWatchlist", "NegativeTemplates", "filter_candidates", "suppressed"]
