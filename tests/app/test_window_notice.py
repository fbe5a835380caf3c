"""A link whose date window holds no data says so on the commanders' page."""

from __future__ import annotations

from datetime import date

from riskmap.app.commanders_data import CommandersView
from riskmap.app.pages.commanders import _window_notice
from riskmap.i18n import use_language

MONTHS = [date(2024, m, 1) for m in range(1, 13)]


def _text(view: CommandersView) -> str:
    return " ".join(p.children for p in _window_notice(view, MONTHS))


def test_a_window_outside_the_data_is_named_with_the_range_shown_instead() -> None:
    with use_language("en"):
        text = _text(CommandersView(start=date(2019, 1, 1), end=date(2019, 12, 31)))
    assert "2019-01-01 – 2019-12-31" in text and "2024-01 – 2024-12" in text
    with use_language("en"):
        assert "2025-03-01" in _text(CommandersView(start=date(2025, 3, 1)))
    with use_language("ru"):
        assert "Нет происшествий" in _text(CommandersView(end=date(2023, 12, 31)))


def test_a_window_that_overlaps_the_data_has_no_notice() -> None:
    for view in (CommandersView(), CommandersView(start=date(2023, 6, 1), end=date(2024, 2, 1)),
                 CommandersView(start=date(2024, 12, 31)), CommandersView(end=date(2024, 1, 1))):
        assert _window_notice(view, MONTHS) == []
    assert _window_notice(CommandersView(start=date(2019, 1, 1)), []) == []
