"""Status colours stay readable on the light and the dark palette (WCAG AA: contrast at least 4.5:1)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication

from gui.main_window import Area
from gui.tones import Tone, dark_palette, is_dark, tone


def _luminance(colour: QColor) -> float:
    def channel(c: float) -> float:
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    return 0.2126 * channel(colour.redF()) + 0.7152 * channel(colour.greenF()) + 0.0722 * channel(colour.blueF())


def contrast(a: QColor, b: QColor) -> float:
    hi, lo = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (hi + 0.05) / (lo + 0.05)


@pytest.fixture(params=["light", "dark"])
def palette(request: pytest.FixtureRequest, qapp: QApplication) -> Iterator[str]:
    before = QGuiApplication.palette()
    qapp.setPalette(dark_palette() if request.param == "dark" else qapp.style().standardPalette())
    yield request.param
    qapp.setPalette(before)


def test_every_tone_is_readable_on_the_window_and_the_table_background(palette: str) -> None:
    assert is_dark() is (palette == "dark")
    window = QGuiApplication.palette().color(QPalette.ColorRole.Window)
    base = QGuiApplication.palette().color(QPalette.ColorRole.Base)
    for which in Tone:
        colour = QColor(tone(which))
        assert contrast(colour, window) >= 4.5, (palette, which, tone(which), window.name())
        assert contrast(colour, base) >= 4.5, (palette, which, tone(which), base.name())


def test_a_failure_is_written_in_the_palette_s_bad_tone(palette: str, qtbot, make_window, tmp_path) -> None:  # type: ignore[no-untyped-def]
    window = make_window(tmp_path / "ws")
    window.show_area(Area.TEST_CONNECTION)
    page = window.test_connection_page
    page.url.setText("https://127.0.0.1:1/")
    page.ca_file.setText("/nonexistent/ca.crt")
    page.run_test()
    qtbot.waitUntil(lambda: "Failed at" in page.result.text(), timeout=30_000)
    assert tone(Tone.BAD) in page.result.text()
