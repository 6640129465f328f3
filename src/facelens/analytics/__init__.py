"""Analytics over time: expression observations per location and the happiness index."""

from .feed import ObservationFeed
from .happiness import BUCKETS, BucketStat, happiness_index, wilson_interval
from .store import Observation, ObservationStore

__all__ = ["BUCKETS", "BucketStat", "Observation", "ObservationFeed", "ObservationStore",
           "happiness_index", "wilson_interval"]
