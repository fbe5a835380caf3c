"""Focus groups in the app: their labels, the Focus dropdown, and who sees exact counts.

The groups themselves (and the masks) are :mod:`riskmap.geo.focus`; who may see focus-group
counts below :data:`~riskmap.auth.roles.SUPPRESS_BELOW` is the permission
:data:`~riskmap.auth.roles.FOCUS_EXACT` (admins and commanders).
"""

from __future__ import annotations

from typing import Any

from dash import dcc

from riskmap.auth.roles import FOCUS_EXACT
from riskmap.geo.focus import FOCUS_GROUPS
from riskmap.i18n import N_, translate
from riskmap.i18n import gettext as _

__all__ = ["FOCUS_LABELS", "focus_dropdown", "focus_exact", "focus_label"]

#: each focus group's label (translated where shown)
FOCUS_LABELS: dict[str, str] = {
    "minors": N_("Minors (victim or offender under 18)"),
    "youth": N_("Youth (victim or offender 18-30)"),
    "women": N_("Women (female victim)"),
    "family": N_("Family (domestic context)"),
    "repeat": N_("Repeat offenders"),
    "probation": N_("Offenders on probation"),
}


def focus_label(group: str | None) -> str:
    """The label of ``group`` in the reader's language (``"All incidents"`` for ``None``).

    Examples
    --------
    >>> focus_label("women"), focus_label(None)
    ('Women (female victim)', 'All incidents')
    """
    if group is None:
        return _("All incidents")
    return translate(FOCUS_LABELS.get(group, group))


def focus_dropdown(component_id: str, chosen: str | None) -> dcc.Dropdown:
    """The Focus dropdown: every group of :data:`FOCUS_GROUPS`, empty for all incidents."""
    return dcc.Dropdown(id=component_id, value=chosen if chosen in FOCUS_GROUPS else None,
                        options=[{"label": focus_label(g), "value": g} for g in FOCUS_GROUPS],
                        placeholder=_("All incidents"), clearable=True)


def focus_exact(principal: Any = None) -> bool:
    """Whether the request's user sees exact focus-group counts (:data:`FOCUS_EXACT`).

    Without a logged-in user (the app served with ``--no-auth`` on the loopback, or a call
    outside a request) the counts are exact: whoever runs it can read the store itself.
    """
    if principal is None:
        try:
            from riskmap.app.auth import current_principal

            principal = current_principal()
        except (PermissionError, RuntimeError):
            return True
    return bool(principal.can(FOCUS_EXACT))
