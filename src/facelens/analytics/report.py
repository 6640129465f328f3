"""``facelens happiness report``: stored observations → table rows, a CSV and one PNG per location."""

from __future__ import annotations

import csv
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

from ..errors import BadInputError, NotFoundError
from .happiness import BucketStat, Tally
from .store import ObservationStore

CSV_FIELDS = ("location", "bucket_start", "people", "happy", "index", "ci_low", "ci_high", "observations")
CACHED_REPORTS = 64  # (database, locations, bucket, range) combinations kept


@dataclass
class Report:
    bucket: str
    stats: list[BucketStat]
    csv_path: Path | None = None
    charts: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"bucket": self.bucket, "counting": "each person (track) once per bucket",
                "rows": [s.to_dict() for s in self.stats],
                "csv": str(self.csv_path) if self.csv_path else None,
                "charts": {k: str(v) for k, v in self.charts.items()}}


def build_report(store: ObservationStore, locations: Sequence[str] | None, bucket: str,
                 start: datetime | None = None, end: datetime | None = None,
                 out_dir: Path | None = None) -> Report:
    """Check the request, compute the index per bucket, write CSV + charts when out_dir is given."""
    if start is not None and end is not None and start >= end:
        raise BadInputError(f"empty time range: --from {start.isoformat()} is not before --to {end.isoformat()}")
    known = store.locations()
    if not known:
        raise NotFoundError("no happiness observations are stored yet; feed some with "
                            "`facelens analyze VIDEO --location NAME`")
    wanted = list(locations or known)
    unknown = [name for name in wanted if name not in known]
    if unknown:
        raise NotFoundError(f"unknown location {unknown[0]!r}; stored locations: {', '.join(known)}")
    stats = cached_index(store, wanted, bucket, start, end)
    if not stats:
        span = f"{start.isoformat() if start else 'the beginning'} … {end.isoformat() if end else 'now'}"
        raise NotFoundError(f"no observations for {', '.join(wanted)} in {span}")
    report = Report(bucket, stats)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        report.csv_path = write_csv(stats, out_dir / "happiness.csv")
        for location in wanted:
            rows = [s for s in stats if s.location == location]
            if rows:
                report.charts[location] = plot_location(rows, bucket, out_dir / f"happiness_{slug(location)}.png")
    return report


class _Kept:
    """One report's tally and the table version it counts (rows with id ≤ version[1])."""

    def __init__(self, bucket: str) -> None:
        self.tally = Tally(bucket)
        self.version: tuple[int, int] | None = None
        self.lock = threading.Lock()


class _IndexCache:
    """Reports kept counting: each new request folds in only the observations added since.

    A report reads every observation in its range (~10k rows: 100–300 ms, mostly JSON decoding),
    and the dashboard asks for it on every visit — while cameras keep adding observations. The
    table's version (row count, highest id) says what changed: nothing (the kept answer), rows
    added (fold in the rows with a higher id, up to the version's: ``Tally`` counts again only
    the buckets they touch), or rows removed or committed late below the kept highest id — the
    rows up to it no longer number what was counted — and then the report is counted afresh."""

    def __init__(self, size: int) -> None:
        self.size = size
        self._kept: OrderedDict[tuple, _Kept] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, store: ObservationStore, wanted: list[str], bucket: str, start: datetime | None,
            end: datetime | None) -> list[BucketStat]:
        key = (store.url, tuple(wanted), bucket, start, end)
        with self._lock:
            kept = self._kept.get(key)
            if kept is None:
                kept = self._kept[key] = _Kept(bucket)
            self._kept.move_to_end(key)
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        with kept.lock:
            version = store.version()
            if kept.version != version:
                previous = kept.version
                if previous is not None and version[1] >= previous[1] and store.count_up_to(previous[1]) == previous[0]:
                    kept.tally.add(store.rows(wanted, start, end, ids=(previous[1], version[1])))
                else:
                    kept.tally = Tally(bucket)
                    kept.tally.add(store.rows(wanted, start, end, ids=(0, version[1])))
                kept.version = version
            return kept.tally.stats()


_cache = _IndexCache(CACHED_REPORTS)


def cached_index(store: ObservationStore, wanted: list[str], bucket: str, start: datetime | None = None,
                 end: datetime | None = None) -> list[BucketStat]:
    """The happiness index of the store's observations in range, counted once and then kept up
    to date with the observations added since (``_IndexCache``)."""
    return _cache.get(store, wanted, bucket, start, end)


def slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name).strip("_") or "location"


def write_csv(stats: Sequence[BucketStat], path: Path) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_FIELDS)
        writer.writeheader()
        for s in stats:
            writer.writerow(s.to_dict())
    return path


def plot_location(stats: Sequence[BucketStat], bucket: str, path: Path) -> Path:
    """Index per bucket with its 95 % interval (top) and people counted (bottom). Buckets without
    anybody break the line instead of being bridged by it."""
    import math

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    step = {"hour": timedelta(hours=1), "day": timedelta(days=1), "week": timedelta(days=7)}[bucket]
    by_start = {s.start: s for s in stats}
    starts = [stats[0].start]
    while starts[-1] < stats[-1].start and len(starts) < 2000:
        starts.append(starts[-1] + step)
    if len(starts) >= 2000:
        starts = [s.start for s in stats]
    index = [100 * by_start[t].index if t in by_start else math.nan for t in starts]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 5), sharex=True,
                                      gridspec_kw={"height_ratios": [3, 1]})
    half = step / 2  # points at the middle of their bucket, above its bar
    top.plot([t + half for t in starts], index, marker="o")
    top.errorbar([s.start + half for s in stats], [100 * s.index for s in stats],
                 yerr=[[100 * (s.index - s.interval[0]) for s in stats],
                       [100 * (s.interval[1] - s.index) for s in stats]], fmt="none", capsize=3)
    top.set_ylim(-2, 102)
    top.set_ylabel("happy people (%)")
    top.set_title(f"Happiness index — {stats[0].location} (per {bucket}, 95 % Wilson interval)")
    top.grid(alpha=0.3)
    bottom.bar([s.start for s in stats], [s.people for s in stats], width=_bar_width(bucket),
               align="edge", color="grey")
    bottom.set_ylabel("people")
    bottom.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.autofmt_xdate()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def _bar_width(bucket: str) -> float:
    return {"hour": 1 / 24, "day": 1.0, "week": 7.0}[bucket] * 0.8
