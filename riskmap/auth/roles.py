"""Roles, what each may do, and the :class:`Principal` a request acts for.

Five roles (an admin assigns one per user, or the directory does through its groups):

===============  ===================================================================
``admin``        everything, every region: users and roles, the audit log, imports
``commander``    the commanders' page, incident-level data and roadmaps of their regions
                 or districts; nothing outside them
``planner``      the camera planner (run, save, accept plans) and coverage, in scope
``tourism_safety`` the tourism zones page and zone reports, in scope
``analyst``      maps, exports and the rematch of addresses in their regions; with
                 ``suppressed_elsewhere`` (set by an admin), suppressed figures of the other
                 regions (counts below :data:`SUPPRESS_BELOW` as "< 5", points at the centre
                 of their H3 cell at :data:`SUPPRESSED_H3_RES`, months, no incident rows);
                 without it, nothing outside the scope
===============  ===================================================================

Scope is a set of regions (and optionally districts within them); an empty scope means every
region and is allowed for ``admin`` only, or for a user an admin marks so explicitly.

Focus groups (minors, youth, women, family, repeat offenders: :mod:`riskmap.geo.focus`) are
about vulnerable people, so their breakdowns (the mahalla panel, the red list's focus column,
review packs) show exact counts only to the roles with :data:`FOCUS_EXACT` (``admin`` and
``commander``, in their scope); every other role sees counts below :data:`SUPPRESS_BELOW` as
"< 5" even in its own scope, and nobody sees focus groups of a region seen suppressed (its
de-identified incidents carry no focus fields).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from riskmap.geo.deidentify import SUPPRESSED_H3_RES

__all__ = ["FOCUS_EXACT", "PERMISSIONS", "ROLES", "SUPPRESSED_H3_RES", "SUPPRESS_BELOW",
           "Principal", "Visibility"]

ROLES = ("admin", "commander", "planner", "tourism_safety", "analyst")

#: what each role may do
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"page:overview", "page:commanders", "page:planner", "page:tourism",
                        "page:rematch", "page:admin", "data:incidents", "plan:run",
                        "plan:accept", "roadmap:edit", "alias:write", "export", "report",
                        "users:manage", "audit:read", "ingest", "focus:exact"}),
    "commander": frozenset({"page:overview", "page:commanders", "page:planner",
                            "page:tourism", "data:incidents", "roadmap:edit", "export",
                            "report", "focus:exact"}),
    "planner": frozenset({"page:overview", "page:planner", "plan:run", "plan:accept",
                          "export"}),
    "tourism_safety": frozenset({"page:overview", "page:tourism", "report"}),
    "analyst": frozenset({"page:overview", "page:commanders", "page:rematch",
                          "data:incidents", "alias:write", "export", "report"}),
}

#: counts below this are shown as "< k" in suppressed views
SUPPRESS_BELOW = 5
#: the permission to see focus-group counts below SUPPRESS_BELOW (admin, commander)
FOCUS_EXACT = "focus:exact"


class Visibility:
    """How much of a region a principal sees."""

    FULL = "full"
    SUPPRESSED = "suppressed"
    NONE = "none"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for.

    Parameters
    ----------
    username
        The login name (or ``token:<name>`` for a system's API token).
    role
        One of :data:`ROLES`.
    regions
        Regions of the scope; empty means every region.
    districts
        Districts of the scope within those regions (empty: whole regions).
    suppressed_elsewhere
        Outside the scope, see suppressed figures instead of nothing (analysts).
    client
        The client's address, for the audit log.
    """

    username: str
    role: str
    regions: tuple[str, ...] = ()
    districts: tuple[str, ...] = ()
    suppressed_elsewhere: bool = False
    client: str = ""
    extra: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(f"role {self.role!r}: expected one of {', '.join(ROLES)}")

    @property
    def unscoped(self) -> bool:
        """True when the scope is every region."""
        return not self.regions

    def can(self, permission: str) -> bool:
        """Whether the role (or an extra grant) allows ``permission``."""
        return permission in PERMISSIONS[self.role] or permission in self.extra

    def visibility(self, region: str | None, district: str | None = None) -> str:
        """:class:`Visibility` of a region (and district) for this principal."""
        inside = self.unscoped or (region in self.regions and (
            not self.districts or district is None or district in self.districts))
        if inside:
            return Visibility.FULL
        return Visibility.SUPPRESSED if self.suppressed_elsewhere else Visibility.NONE

    def readable_regions(self, all_regions: Iterable[str]) -> list[str]:
        """The regions this principal may read at all (fully or suppressed)."""
        names = sorted({str(r) for r in all_regions if r is not None})
        return [r for r in names if self.visibility(r) != Visibility.NONE]

    @property
    def scope_text(self) -> str:
        """``"all regions"`` or the regions (and districts) of the scope."""
        if self.unscoped:
            return "all regions"
        text = ", ".join(self.regions)
        return f"{text} ({', '.join(self.districts)})" if self.districts else text
