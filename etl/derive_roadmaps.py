"""Build step ``roadmaps``: close the roadmaps of the mahallas that have left red.

``riskmap build --only roadmaps`` reads the ``mahalla_status`` history (written by the
``hotspots`` step, which runs first) and the mahallas, then, in one audited transaction
(:func:`riskmap.etl.roadmaps.close_and_open`), closes each open roadmap whose mahalla is not red
at a later month than its opening, keeping the status, count and rate at opening and at closing
in ``closed_figures``. Roadmaps open in the app, at the first edit of a red mahalla's roadmap
(status ``open``, ``opened_because`` the red status's reason).

Running it again on the same history writes nothing (idempotent).
"""

from __future__ import annotations

from typing import Any

__all__ = ["build"]


def build(store: Any, settings: Any, *, progress: bool = False) -> dict[str, Any]:
    """Close roadmaps from the store's ``mahalla_status``; return the counts."""
    from riskmap.etl.roadmaps import close_and_open
    from riskmap.layers.access import DataAccess

    if not store.has("mahalla_status"):
        return {"opened": 0, "closed": 0, "note": "no mahalla_status layer (run hotspots)"}
    user = str(getattr(settings, "user", None) or "build")
    access = DataAccess(store, user=user, client="build")
    history = access.read("mahalla_status", columns=["mahalla_id", "month", "status", "why",
                                                     "count", "rate_per_1000"], purpose="build")
    places = access.read("mahallas", columns=["mahalla_id", "region", "district"],
                         purpose="build")
    return close_and_open(access, history, places)
