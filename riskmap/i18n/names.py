"""Display names of the codes users see: incident categories, camera types, statuses, roles.

Codes (``vehicle_theft``, ``face_recognition``, ``red``) stay in the data, the URL and the
exports' values; tables, legends and dropdowns show :func:`display_name` in the reader's
language. Every code listed in ``etl/categories.py``, ``layers/spec.py`` (camera types),
``geo/status.py``/``geo/trends.py`` (statuses, emerging classes), ``riskmap/auth/roles.py``
and ``riskmap/jobs`` has a name here (``tests/test_i18n.py`` checks).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np
import pandas as pd

from riskmap.i18n import N_, current_language, gettext

__all__ = ["COLUMNS", "NAMES", "column_header", "column_label", "display_name", "display_names",
           "gi_class_name"]

#: code -> English display name (the msgid)
NAMES: dict[str, str] = {
    # incident categories (etl/categories.py)
    "homicide": N_("Homicide"),
    "assault": N_("Assault"),
    "sexual_violence": N_("Sexual violence"),
    "robbery": N_("Robbery"),
    "burglary": N_("Burglary"),
    "theft": N_("Theft"),
    "vehicle_theft": N_("Vehicle theft"),
    "fraud": N_("Fraud"),
    "cybercrime": N_("Cybercrime"),
    "drugs": N_("Drugs"),
    "domestic_violence": N_("Domestic violence"),
    "hooliganism": N_("Hooliganism"),
    "traffic": N_("Traffic"),
    "weapons": N_("Weapons"),
    "other": N_("Other"),
    # camera types (layers/spec.py CAMERA_TYPES); "traffic" is shared with the category
    "face_recognition": N_("Face recognition"),
    "licence_plate": N_("Licence plate"),
    "overview": N_("Overview"),
    # mahalla status (geo/status.py)
    "red": N_("Red"),
    "yellow": N_("Yellow"),
    "green": N_("Green"),
    # candidate sites and infrastructure kinds (etl/planning.py)
    "bus_stop": N_("Bus stop"),
    "school": N_("School"),
    "market": N_("Market"),
    "station": N_("Station"),
    "intersection": N_("Intersection"),
    "entrance": N_("Entrance"),
    "police_post": N_("Police post"),
    "medical": N_("Medical post"),
    "hotel": N_("Hotel"),
    "camp": N_("Camp"),
    "beach": N_("Beach"),
    # roles (riskmap/auth/roles.py)
    "admin": N_("Administrator"),
    "commander": N_("Commander"),
    "planner": N_("Planner"),
    "tourism_safety": N_("Tourism safety"),
    "analyst": N_("Analyst"),
    # job states (riskmap/jobs)
    "queued": N_("Queued"),
    "running": N_("Running"),
    "done": N_("Done"),
    "failed": N_("Failed"),
    "cancel_requested": N_("Cancelling"),
    "cancelled": N_("Cancelled"),
    "refused": N_("Refused"),
    # Gi* classes and emerging hot-spot classes (geo/status.py, geo/trends.py)
    "not_significant": N_("Not significant"),
    "no_pattern": N_("No pattern"),
    "new_hot_spot": N_("New hot spot"),
    "consecutive_hot_spot": N_("Consecutive hot spot"),
    "intensifying_hot_spot": N_("Intensifying hot spot"),
    "persistent_hot_spot": N_("Persistent hot spot"),
    "diminishing_hot_spot": N_("Diminishing hot spot"),
    "sporadic_hot_spot": N_("Sporadic hot spot"),
    "oscillating_hot_spot": N_("Oscillating hot spot"),
    "historical_hot_spot": N_("Historical hot spot"),
    "new_cold_spot": N_("New cold spot"),
    "consecutive_cold_spot": N_("Consecutive cold spot"),
    "intensifying_cold_spot": N_("Intensifying cold spot"),
    "persistent_cold_spot": N_("Persistent cold spot"),
    "diminishing_cold_spot": N_("Diminishing cold spot"),
    "sporadic_cold_spot": N_("Sporadic cold spot"),
    "oscillating_cold_spot": N_("Oscillating cold spot"),
    "historical_cold_spot": N_("Historical cold spot"),
    # scope
    "all regions": N_("all regions"),
}

#: column id -> English header (the msgid): the exports' and briefs' headers
COLUMNS: dict[str, str] = {
    "incident_id": N_("Incident id"),
    "occurred_at": N_("Occurred at"),
    "category": N_("Category"),
    "lat": N_("Latitude"),
    "lon": N_("Longitude"),
    "h3": N_("H3 cell"),
    "mahalla_id": N_("Mahalla id"),
    "mahalla": N_("Mahalla"),
    "name": N_("Mahalla"),
    "district": N_("District"),
    "region": N_("Region"),
    "population": N_("Population"),
    "geocode_precision": N_("Located by"),
    "flags": N_("Flags"),
    "source_file": N_("Source file"),
    "source_row": N_("Source row"),
    "suppressed": N_("Suppressed"),
    "month": N_("Month"),
    "status": N_("Status"),
    "count": N_("Incidents"),
    "why": N_("Why"),
    "camera_id": N_("Camera"),
    "type": N_("Type"),
    "range_m": N_("Range (m)"),
    # a camera plan (etl/planning.py plan_table)
    "plan_id": N_("Plan"),
    "rank": N_("Rank"),
    "site_id": N_("Site"),
    "kind": N_("Site kind"),
    "bearing_deg": N_("Bearing (°)"),
    "fov_deg": N_("Field of view (°)"),
    "height_m": N_("Height (m)"),
    "cost": N_("Cost"),
    "marginal_gain": N_("Risk newly covered"),
    "marginal_gain_share": N_("Share of the risk newly covered"),
    # the admin page's audit log and ingest runs (app/callbacks/admin.py)
    "seq": N_("Record number"),
    "at": N_("Time"),
    "user": N_("User"),
    "action": N_("Action"),
    "layer": N_("Layer"),
    "scope": N_("Scope"),
    "detail": N_("Details"),
    "rows": N_("Rows"),
    "client": N_("Client address"),
    "outcome": N_("Outcome"),
    "prev_hash": N_("Previous hash"),
    "hash": N_("Hash"),
    "run_id": N_("Run"),
    "started_at": N_("Started at"),
    "ended_at": N_("Ended at"),
    "file_name": N_("File name"),
    "file_size": N_("File size (bytes)"),
    "file_sha256": N_("File SHA-256"),
    "input_rows": N_("Input rows"),
    "loaded": N_("Loaded"),
    "updated": N_("Updated"),
    "duplicates": N_("Duplicates"),
    "quarantined": N_("Quarantined"),
    "by_reason": N_("Quarantined by reason"),
    "error": N_("Error"),
}


def column_header(column: object, lang: str | None = None) -> str:
    """The header of an export's column: the column id itself in English or with no
    language (the machine-readable headers other systems read), else its translated name.

    Examples
    --------
    >>> column_header("occurred_at"), column_header("occurred_at", "ru")
    ('occurred_at', 'Дата и время')
    >>> column_header("some_column", "ru")
    'some_column'
    """
    text = str(column)
    lang = lang or current_language()
    if lang in (None, "en") or text not in COLUMNS:
        return text
    return gettext(COLUMNS[text], lang)


def column_label(column: object) -> str:
    """A column's name for people in the current language (``Incident id``; unknown ids as
    words), for HTML tables."""
    text = str(column)
    return gettext(COLUMNS[text]) if text in COLUMNS else text.replace("_", " ")


#: messages made outside the app that it shows (riskmap/auth/accounts.py login refusals)
MESSAGES = (N_("wrong user name or password"), N_("too many failed logins: try again later"),
            N_("the server is busy checking other logins: try again in a moment"))

_GI = {"hot": N_("hot spot {confidence}%"), "cold": N_("cold spot {confidence}%")}


def display_name(code: object) -> str:
    """The name of ``code`` in the current language; an unknown code reads as words.

    Examples
    --------
    >>> from riskmap.i18n import use_language
    >>> with use_language("ru"):
    ...     display_name("vehicle_theft"), display_name("face_recognition")
    ('Угон транспорта', 'Распознавание лиц')
    >>> display_name("some_new_code")
    'Some new code'
    """
    text = "" if code is None else str(code)
    if text in NAMES:
        return gettext(NAMES[text])
    if text.startswith(("hot_", "cold_")):
        kind, _, confidence = text.partition("_")
        return gettext(_GI[kind]).format(confidence=confidence)
    return text.replace("_", " ").capitalize()


def display_names(codes: Iterable[object], missing: str | None = None) -> np.ndarray:
    """:func:`display_name` of each code (an object array), each distinct code looked up
    once; ``missing``: the text of a missing code (``None``, NA, NaN), else its name.

    >>> display_names(["vehicle_theft", None, "vehicle_theft"], missing="n/a").tolist()
    ['Vehicle theft', 'n/a', 'Vehicle theft']
    """
    values = pd.Series(list(codes) if not isinstance(codes, pd.Series) else codes,
                       dtype=object)
    idx, uniq = pd.factorize(values, use_na_sentinel=True)
    names = np.array([display_name(c) for c in uniq.tolist()] + [
        display_name(None) if missing is None else missing], dtype=object)
    return names[idx]


def gi_class_name(code: object) -> str:
    """A Gi* class (``hot_95``, ``not_significant``) in words of the current language."""
    return display_name(code)
