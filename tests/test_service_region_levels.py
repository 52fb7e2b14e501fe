"""The dashboard's region breakdown (``GET /api/rumours/{id}``'s ``regions``) counts a share at
the level its region is known to and above, never below: a share known only to the city (a
city's code, ``4403 00``) is one of the city's and the province's, and an unknown county; it
was counted as a county under the city's code. On the embedded store (chDB)."""
from __future__ import annotations

import pytest

from tests.service_helpers import _ev, store_of

EVENTS = [
    _ev("sz-1", 0, "county", 0, region="440305"),  # Nanshan, a district of Shenzhen
    _ev("sz-1", 1, "city-code", 1, 0, "county", region="440300"),  # Shenzhen, no county
    _ev("sz-1", 2, "city-spaced", 2, 0, "county", region="4403 00"),  # as some exports print it
    _ev("sz-1", 3, "city-text", 3, 0, "county", region="深圳市"),
    _ev("sz-1", 4, "province", 4, 0, "county", region="440000"),  # Guangdong only
    _ev("sz-1", 5, "beijing", 5, 0, "county", region="110000"),  # a municipality: its own city
    _ev("sz-1", 6, "chaoyang", 6, 0, "county", region="110105"),
    _ev("sz-1", 7, "nowhere", 7, 0, "county"),
]


@pytest.fixture(scope="module", params=["chdb"])
def views(request):
    from streams.embedded import replay_events
    from streams.service.pseudonym import Pseudonymiser
    from streams.service.views import Views
    from streams.settings import Settings

    with store_of(request) as store:
        pipeline, stats = replay_events(EVENTS, store, Settings.load({"batch_size": 4}))
        assert stats.stored == len(EVENTS)
        yield Views(pipeline, store, Pseudonymiser(b"k" * 32))


def test_a_share_known_to_the_city_counts_for_the_city_never_as_a_county(views):
    regions = {level: dict(rows) for level, rows in views.detail("sz-1")["regions"].items()}
    assert regions["province"] == {"440000": 5, "110000": 2, "": 1}
    assert regions["city"] == {"440300": 4, "110000": 2, "": 2}
    # Only the two shares whose county is known are counties; the city's code is never one.
    assert regions["county"] == {"440305": 1, "110105": 1, "": 6}
    names = views.detail("sz-1")["region_names"]
    assert names["440300"]["en"] == "Shenzhen" and "" not in names


def test_a_municipal_district_is_named_with_its_municipality(views):
    # The walk: a Beijing Chaoyang desk's rumours were shown as "朝阳区", which Changchun has too
    # (220104); a county below a city was already named with its city ("深圳 南山区").
    names = views.detail("sz-1")["region_names"]
    assert names["110105"] == {"zh": "北京 朝阳区", "en": "Chaoyang District, Beijing"}
    assert names["440305"]["zh"] == "深圳 南山区"
