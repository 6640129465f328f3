"""Page loads on a crowded server (1,000 people, 10,000 alerts): each page is opened afresh
several times in Chromium and the time from the start of the navigation to the page showing its
data (the `facelens-ready` performance mark) is recorded. The numbers go to load_times.json in
the screenshot folder and into docs/dashboard.md.

The goal is 300 ms per page. The test fails only past 2 s (median), so that a busy shared test
machine cannot fail it; the medians, the server's share (the slowest API call before the page
was ready) and the machine's load average are printed and kept."""

from __future__ import annotations

import json
import os
import statistics

import pytest
from dashboard_support import (CROWD_ALERTS, CROWD_OBSERVATIONS, CROWD_PEOPLE, CROWD_STRANGERS, new_page, open_page,
                               ready_ms, screenshot)

pytestmark = [pytest.mark.timeout(600), pytest.mark.slow]

PAGES = ("people", "live", "alerts", "timeline?person=person0001", "happiness", "access", "unknown")
LOADS = 5
GOAL_MS = 300
LIMIT_MS = 2000


def test_every_page_loads_fast_with_a_crowded_gallery(browser, crowded, shots):
    with crowded.client("viewer") as api:
        assert api.get("/subjects", params={"limit": 1}).json()["total"] == CROWD_PEOPLE
        assert api.get("/alerts", params={"limit": 1}).json()["total"] == CROWD_ALERTS

    page = new_page(browser, crowded, "operator")
    open_page(page, "/ui/people")  # the first load pays for module compilation and the key check
    results = {}
    for path in PAGES:
        times, api_times = [], []
        for _ in range(LOADS):
            open_page(page, f"/ui/{path}")
            total, api = ready_ms(page)
            times.append(total)
            api_times.append(api)
        results[path.split("?")[0]] = {"median_ms": round(statistics.median(times), 1), "max_ms": round(max(times), 1),
                                       "api_median_ms": round(statistics.median(api_times), 1),
                                       "loads": [round(t, 1) for t in times]}
        screenshot(page, shots, f"crowded-{path.split('?')[0]}")
    page.context.close()

    load = os.getloadavg()[0]
    (shots / "load_times.json").write_text(json.dumps({"people": CROWD_PEOPLE, "alerts": CROWD_ALERTS,
                                                       "observations": CROWD_OBSERVATIONS, "goal_ms": GOAL_MS,
                                                       "cpus": os.cpu_count(), "load_average_1min": round(load, 1),
                                                       "pages": results}, indent=1))
    print(f"\npage load (navigation start → data shown), ms; {os.cpu_count()} CPUs, load average {load:.1f}:")
    for name, result in results.items():
        print(f"  {name:10s} median {result['median_ms']:7.1f}  max {result['max_ms']:7.1f}"
              f"  (slowest API call: median {result['api_median_ms']:6.1f})"
              f"{'' if result['median_ms'] < GOAL_MS else '  over the 300 ms goal'}")
    slow = {name: r["median_ms"] for name, r in results.items() if r["median_ms"] >= LIMIT_MS}
    assert not slow, f"pages slower than {LIMIT_MS} ms (median): {slow}"


def test_alert_pages_are_paginated(browser, crowded):
    page = new_page(browser, crowded, "viewer")
    open_page(page, "/ui/alerts")
    assert page.locator("article.alert").count() == 25
    assert f"of {CROWD_ALERTS:,}" in page.inner_text(".pager")
    page.click("text=Older ›")
    page.wait_for_selector(f".pager >> text=26–50 of {CROWD_ALERTS:,}")
    open_page(page, "/ui/people")
    assert page.locator(".person").count() == 60
    page.fill("input[name=q]", "person09")  # searched by the server: GET /subjects?q=person09
    page.wait_for_selector("#people-count >> text=100 people")
    assert page.locator(".person").count() == 60 and "1–60 of 100" in page.inner_text(".pager")
    open_page(page, "/ui/unknown")
    assert page.locator("[data-cluster]").count() == CROWD_STRANGERS
    page.wait_for_selector("[data-cluster] .frame img[src^='blob:']")
    page.context.close()
