"""Reports over what the cameras recorded: the time line of sightings and the happiness index."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, Query
from fastapi.responses import Response

from ...errors import BadInputError
from ...usecases.inputs import parse_naive_utc, parse_utc
from ..auth import VIEW, allow
from ..state import ServerState
from .common import server

router = APIRouter(tags=["reports"])


@router.get("/timeline", **allow(VIEW), summary="Sightings across cameras, oldest first")
def timeline(person: str | None = Query(None, description="identity name or global id (person:NAME, unknown:…)"),
             camera: str | None = None, since: str | None = Query(None, description="ISO time (UTC)"),
             until: str | None = Query(None, description="ISO time (UTC)"),
             limit: int = Query(500, ge=1, le=100_000), offset: int = Query(0, ge=0),
             state: ServerState = Depends(server)) -> dict[str, Any]:
    start, end = parse_utc(since, "since"), parse_utc(until, "until")
    rows = state.sightings.sightings(person, camera, start.isoformat() if start else None,
                                     end.isoformat() if end else None, limit, offset)
    return {"person": person, "sightings": rows, "limit": limit, "offset": offset}


@router.get("/happiness", **allow(VIEW), response_model=None,
            summary="Happiness index per location and period (JSON, CSV or PNG)")
async def happiness(location: list[str] | None = Query(None, description="repeat for several; default all"),
                    bucket: Literal["hour", "day", "week"] = "day",
                    since: str | None = Query(None, alias="from", description="ISO time (UTC)"),
                    until: str | None = Query(None, alias="to", description="ISO time (UTC)"),
                    format: Literal["json", "csv", "png"] = "json",
                    state: ServerState = Depends(server)) -> Any:
    """Each person (track) counts once per bucket; ``png`` draws one location (give exactly one)."""
    if format == "png" and (not location or len(location) != 1):
        raise BadInputError("format=png draws one location: give exactly one location=")
    start, end = parse_naive_utc(since, "from"), parse_naive_utc(until, "to")
    return await state.pool.run(_report, state.observations, location, bucket, start, end, format)


def _report(store: Any, locations: list[str] | None, bucket: str, start: Any, end: Any, kind: str) -> Any:
    from ...usecases.analysis import happiness_report

    if kind == "json":
        report = happiness_report(locations, bucket, start=start, end=end, store=store)
        return {"bucket": report.bucket, "counting": "each person (track) once per bucket",
                "rows": [s.to_dict() for s in report.stats]}
    with tempfile.TemporaryDirectory(prefix="facelens-happiness-") as folder:
        report = happiness_report(locations, bucket, start=start, end=end, out=Path(folder), store=store)
        if kind == "csv":
            return Response(report.csv_path.read_bytes(), media_type="text/csv",
                            headers={"Content-Disposition": 'attachment; filename="happiness.csv"'})
        chart = next(iter(report.charts.values()))
        return Response(chart.read_bytes(), media_type="image/png")
