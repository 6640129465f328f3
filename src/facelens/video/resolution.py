"""How finely the watcher looks: the whole frame, or tiles sized to the faces in view.

A 1080p frame detected whole reaches BlazeFace at 192 px, so a 60 px face becomes 6 px and is
missed. Tiling every frame finds it but costs 10–30 model calls. ``DetectionResolution``
(``tile_size="auto"``) spends them only where they pay:

* every detection frame runs the whole-frame pass (on a ≤ ``detect_side`` copy, aligned on the
  full frame);
* while tiling is **off**, a *probe* — the frame in tiles of a quarter of its longer side (at
  least 192 px) — runs on the first detection frame, after every shot cut and every
  ``probe_every`` seconds; if it finds *small* faces — too small to reach
  ``tiling.TARGET_FACE_PX`` at the model's input when the whole frame is shown to it — tiling
  turns on with the tile that shows the smallest of them at that size (``tiling.tile_for``);
* while tiling is **on**, every detection frame adds the tiled pass; the tile follows the
  small confident faces (the 10th percentile of the heights of faces scoring ≥ ``confident``) the
  tiles found in the last ``hold`` seconds,
  and changes only when that asks for a tile at least 25 % different (weak detections and one
  frame's noise do not make it jump); tiling turns off when the tiles have found no small face
  for ``hold`` seconds;
* the fps budget: a tiled pass may cost at most ``max_cost`` seconds (the watcher sets it to what
  the adaptive cadence can absorb: ``max_detect_every`` frames of the target rate). The cost of
  one tile is measured as it runs (running mean); a tile that would need more tiles than the
  budget pays for is coarsened (× 1.25 steps) until it fits, or tiling is dropped.

Where both passes found a face the tiled box wins (tiling.prefer: the whole-frame box of a face
that reached the model at 9 px is too loose to average); the tiles' candidates are merged by
weighted NMS across tiles (tiling.merge). A fixed
``tile_size`` (an int) tiles every detection frame at that size; ``None`` never tiles.
"""

from __future__ import annotations

import time

import numpy as np

from ..detection import get_detector
from ..detection.tiling import MIN_TILE, detect_tiles, merge, prefer, tile_for, tile_origins
from ..types import Face


class DetectionResolution:
    def __init__(self, tile_size: int | str | None = "auto", probe_every: float = 2.0, hold: float = 3.0,
                 max_cost: float | None = None, confident: float = 0.6) -> None:
        self.mode = tile_size
        self.probe_every = probe_every
        self.hold = hold
        self.max_cost = max_cost
        self.confident = confident
        self._heights: list[tuple[float, float]] = []  # (timestamp, height) of confident tiled faces
        self._per_tile: float | None = None  # running mean seconds per tile
        self.tile: int | None = tile_size if isinstance(tile_size, int) and tile_size > 0 else None
        self._last_probe: float | None = None
        self._last_extra: float = -np.inf
        self.probes = 0
        self.tiled_frames = 0

    @property
    def auto(self) -> bool:
        return self.mode == "auto"

    def reset(self) -> None:
        """A shot cut: the next detection frame probes again."""
        if self.auto:
            self._last_probe = None

    def detect(self, rgb: np.ndarray, timestamp: float, whole: list[Face], detector: str,
               min_score: float) -> tuple[list[Face], bool]:
        """Merge ``whole`` (the whole-frame pass, image coordinates) with a tiled pass when due.
        Returns (faces, tiled) — faces not yet aligned."""
        tile = self._tile_now(rgb, timestamp)
        if tile is None:
            return whole, False
        per_tile = get_detector(detector, min_score=min_score, near_fallback=False)
        started = time.perf_counter()
        height, width = rgb.shape[:2]
        found = merge(detect_tiles(rgb, per_tile, tile), width, height)
        cost = (time.perf_counter() - started) / len(tile_origins(height, width, tile))
        self._per_tile = cost if self._per_tile is None else 0.8 * self._per_tile + 0.2 * cost
        self.tiled_frames += 1
        longest = max(rgb.shape[:2])
        extra = [f for f in found if f.score >= self.confident and tile_for([f.height], longest)]
        if extra:
            self._last_extra = timestamp
        if self.auto:
            self._follow(found, extra, rgb.shape, timestamp)
        return prefer(found, whole), True

    def _tile_now(self, rgb: np.ndarray, timestamp: float) -> int | None:
        if not self.auto:
            return self.tile
        if self.tile is not None:
            return self.tile
        due = self._last_probe is None or timestamp - self._last_probe >= self.probe_every
        if not due:
            return None
        self._last_probe = timestamp
        self.probes += 1
        return probe_tile(rgb.shape)

    def _follow(self, found: list[Face], extra: list[Face], shape: tuple[int, ...], timestamp: float) -> None:
        longest = max(shape[:2])
        self._heights = [(t, h) for t, h in self._heights if timestamp - t <= self.hold]
        self._heights += [(timestamp, f.height) for f in found if f.score >= self.confident]
        if self.tile is None:  # this was a probe
            chosen = tile_for([f.height for f in extra], longest) if extra else None
        elif timestamp - self._last_extra > self.hold:
            chosen = None  # the tiles stopped finding small faces
        else:
            small = float(np.percentile([h for _, h in self._heights], 10)) if self._heights else None
            wanted = (tile_for([small], longest) if small else None) or self.tile
            chosen = wanted if abs(wanted - self.tile) >= 0.25 * self.tile else self.tile
        self.tile = self._affordable(chosen, shape)

    def _affordable(self, tile: int | None, shape: tuple[int, ...]) -> int | None:
        """The tile, coarsened until its tiles fit the budget (None when even one pass cannot)."""
        if tile is None or self.max_cost is None or self._per_tile is None:
            return tile
        height, width = shape[:2]
        while len(tile_origins(height, width, tile)) * self._per_tile > self.max_cost:
            tile = int(tile * 1.25) // 32 * 32
            if tile >= max(height, width):
                return None
        return tile


def probe_tile(shape: tuple[int, ...]) -> int:
    """Tiles of a quarter of the longer side (multiple of 32, at least MIN_TILE)."""
    return max(MIN_TILE, max(shape[:2]) // 4 // 32 * 32)
