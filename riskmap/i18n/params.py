"""A forecasting method's tuned parameters in the reader's words.

``geo/forecast.py`` keeps the parameters as codes and values (``{"bandwidth_m": 100.0,
"half_life_days": None}``) and :func:`riskmap.geo.forecast.describe_params` writes them in
English for the CLI; where the app shows them, :func:`render_params` writes them in the
current language with the locale's numbers. A key not listed here is shown as
``describe_params`` writes it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from riskmap.i18n import N_, current_language, format_decimal, gettext

__all__ = ["render_params"]

_M, _D, _YEARS = N_("{n} m"), N_("{n} d"), N_("{n} years")
#: parameter code -> (label, unit template or None for a plain number with 2 decimals)
_PARAMS: dict[str, tuple[str, str | None]] = {
    "bandwidth_m": (N_("bandwidth"), _M),
    "half_life_days": (N_("half-life"), _D),
    "lookback_days": (N_("history"), _D),
    "gi_lookback_days": (N_("history"), _D),
    "nr_bandwidth_m": (N_("bandwidth"), _M),
    "nr_tau_days": (N_("decay"), _D),
    "blend_bandwidth_m": (N_("bandwidth"), _M),
    "blend_recent_days": (N_("recent"), _D),
    "blend_weight": (N_("recent weight"), None),
    "sepp_bandwidth_m": (N_("background"), _M),
    "sepp_lookback_days": (N_("history"), _D),
    "shrink_bandwidth_m": (N_("towards a KDE of"), _M),
    "shrink_half_life_days": (N_("half-life"), _D),
    "shrink_k_years": (N_("prior weight"), _YEARS),
    "adaptive_bandwidth_m": (N_("pilot bandwidth"), _M),
    "adaptive_half_life_days": (N_("half-life"), _D),
}
_NO_DECAY = N_("no decay")
_NONE = {"half_life_days": _NO_DECAY, "shrink_half_life_days": _NO_DECAY,
         "adaptive_half_life_days": _NO_DECAY}
_ALL = N_("{label} all")


def _number(value: float) -> str:
    """As ``{:g}`` writes it (no trailing zeros), in the locale's symbols."""
    text = f"{float(value):g}"
    digits = len(text.partition(".")[2]) if "e" not in text else 2
    return format_decimal(float(value), digits)


def render_params(params: Mapping[str, Any]) -> str:
    """``params`` in words of the current language (no language: ``describe_params``).

    Examples
    --------
    >>> from riskmap.i18n import use_language
    >>> p = {"bandwidth_m": 1500.0, "half_life_days": None, "blend_weight": 0.25}
    >>> render_params(p)
    'bandwidth 1500 m, no decay, recent weight 0.25'
    >>> with use_language("ru"):
    ...     print(render_params(p).replace("\\xa0", " "))
    ширина окна 1 500 м, без затухания, вес недавних 0,25
    >>> with use_language("en"):
    ...     render_params({})
    'fixed'
    """
    from riskmap.geo.forecast import describe_params

    if current_language() is None:
        return describe_params(dict(params))
    parts = []
    for key, value in params.items():
        if key not in _PARAMS:
            parts.append(describe_params({key: value}))
            continue
        label, unit = _PARAMS[key]
        if value is None:
            parts.append(gettext(_NONE[key]) if key in _NONE else
                         gettext(_ALL).format(label=gettext(label)))
            continue
        number = _number(value) if unit is not None else format_decimal(float(value), 2)
        parts.append(gettext(label) + " " + (gettext(unit).format(n=number) if unit else number))
    return ", ".join(parts) or gettext("fixed")
