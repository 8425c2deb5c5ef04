"""The Test Connection page on a failure: the failed step with its cause and fix, a copyable report, a live window."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QGuiApplication

from core.connection_test import Status
from embedded_server.site import DemoSite, SiteConfig
from gui.main_window import Area
from tests.conftest import BUNDLE_PASSWORD, LOGIN_PASSWORD, LOGIN_USER, make_classroom
from tests.gui.conftest import SLOW


def test_a_refused_bundle_shows_its_cause_and_fix_and_the_window_stays_live(qtbot, make_window,
                                                                             tmp_path: Path) -> None:
    room = make_classroom(tmp_path / "room")
    other = make_classroom(tmp_path / "other", ca_name="Some Other CA", student="Eve")
    site = DemoSite(SiteConfig.from_workspace(room.workspace))
    site.start()
    try:
        window = make_window(room.workspace.root)
        window.show_area(Area.TEST_CONNECTION)
        page = window.test_connection_page
        page.url.setText(site.url)
        page.ca_file.setText(str(room.ca_cert))
        page.bundle_file.setText(str(other.bundle.bundle_path))  # a bundle from another CA
        page.bundle_password.setText(BUNDLE_PASSWORD)
        page.username.setText(LOGIN_USER)
        page.password.setText(LOGIN_PASSWORD)
        ticks: list[float] = []
        probe = QTimer()
        probe.setInterval(5)
        probe.timeout.connect(lambda: ticks.append(time.monotonic()))
        probe.start()
        with qtbot.waitSignal(page.report_ready, timeout=SLOW) as blocker:
            page.run_button.click()
            assert not page.run_button.isEnabled() and blocker.args is None  # running on a worker
        probe.stop()
    finally:
        site.stop()
    report = blocker.args[0]
    failed = report.failed_step
    assert failed is not None and failed.status is Status.FAILED
    assert "another CA" in (failed.cause or "")
    # The event loop kept turning while the test ran (painting, typing, Cancel would work).
    assert len(ticks) >= 2

    assert "Failed at" in page.result.text() and failed.title in page.result.text()
    items = {page.steps.topLevelItem(i).text(0): page.steps.topLevelItem(i)
             for i in range(page.steps.topLevelItemCount())}
    item = items[failed.title]
    assert item.isExpanded()
    children = {item.child(i).text(0): item.child(i).text(1) for i in range(item.childCount())}
    assert children["Cause"] == failed.cause and children["Fix"] == failed.fix
    assert not items[report.steps[0].title].isExpanded()  # passed steps fold away, their facts one click off
    statuses = dict(page.step_statuses())
    assert statuses[report.steps[0].title] == "ok"
    assert [statuses[s.title] for s in report.steps if s.status is Status.SKIPPED] == \
        ["skipped"] * sum(s.status is Status.SKIPPED for s in report.steps)

    page.copy_button.click()
    assert QGuiApplication.clipboard().text() == report.to_text()
    assert BUNDLE_PASSWORD not in QGuiApplication.clipboard().text()
    assert LOGIN_PASSWORD not in QGuiApplication.clipboard().text()
    assert item.data(0, Qt.ItemDataRole.UserRole) == "failed"
