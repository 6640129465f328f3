"""Option text → typed values, shared by the CLI and the services: same spellings, same refusals."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from facelens.errors import BadInputError
from facelens.usecases.inputs import (
    build_consent,
    parse_face_choice,
    parse_metadata,
    parse_naive_utc,
    parse_people,
    parse_utc,
    per_source,
)


def test_face_choice_names_and_indexes():
    assert parse_face_choice("largest") == "largest"
    assert parse_face_choice("2") == 2 and parse_face_choice("-1") == -1  # an index: choose_faces checks range


def test_iso_times_become_utc():
    assert parse_utc("2026-01-31T09:00:00Z", "--start-time") == datetime(2026, 1, 31, 9, tzinfo=timezone.utc)
    assert parse_utc("2026-01-31T10:00:00+01:00", "--start-time") == datetime(2026, 1, 31, 9, tzinfo=timezone.utc)
    assert parse_naive_utc("2026-01-31", "--from") == datetime(2026, 1, 31)  # no zone: taken as UTC
    assert parse_naive_utc(None, "--from") is None and parse_utc("  ", "--to") is None
    with pytest.raises(BadInputError, match="--consent-at 'next week': not an ISO date"):
        parse_naive_utc("next week", "--consent-at")


def test_key_value_items():
    assert parse_metadata(["team=blue", "note=a=b", "team=red"]) == {"team": "red", "note": "a=b"}
    assert parse_people(["alice=a1.jpg", "bob=b.jpg", "alice=a2.jpg"]) == {"alice": ["a1.jpg", "a2.jpg"], "bob": ["b.jpg"]}
    with pytest.raises(BadInputError, match="--person takes NAME=IMAGE, not 'alice.jpg'"):
        parse_people(["alice.jpg"])


def test_consent_only_when_a_field_is_given():
    assert build_consent() is None
    consent = build_consent(by="alice", expires="2027-12-31T00:00:00+02:00")
    assert consent.by == "alice" and consent.expires == datetime(2027, 12, 30, 22, 0)
    assert consent.at is not None and consent.at.tzinfo is None  # default now, naive UTC as stored


def test_one_value_per_source():
    assert per_source([], 2, "--camera-id") == [None, None]
    assert per_source(["hall"], 3, "--location", broadcast=True) == ["hall"] * 3
    with pytest.raises(BadInputError, match="give --camera-id once per SOURCE \\(3\\), not 1 times"):
        per_source(["a"], 3, "--camera-id")
