"""The Bundle Doctor page examines a real bundle off the GUI thread and shows checks with their fixes."""

from __future__ import annotations

from pathlib import Path

from gui.main_window import Area
from tests.gui.conftest import CA_PASSPHRASE, SLOW


def test_doctor_page_healthy_then_wrong_password(qtbot, make_window, workspace_with_server, tmp_path: Path) -> None:
    ws = workspace_with_server
    issued = ws.issue_client_bundle(ws.load_ca(CA_PASSPHRASE), name="Ada Lovelace", password="bundle-pass-123")
    window = make_window(ws.root)
    window.show_area(Area.BUNDLE_DOCTOR)
    page = window.doctor_page
    assert page.ca_file.text() == str(ws.ca_cert_path)  # pre-filled from the workspace
    page.bundle_file.setText(str(issued.bundle_path))
    page.password.setText("bundle-pass-123")
    with qtbot.waitSignal(page.report_ready, timeout=SLOW) as blocker:
        page.examine_button.click()
        # click() has returned and the report is not in: the work runs on a worker, the window is free.
        assert not page.examine_button.isEnabled() and blocker.args is None
    assert page.examine_button.isEnabled()
    assert blocker.args[0].healthy
    assert page.verdicts() == {"password": "ok", "key matches certificate": "ok", "validity": "ok",
                               "client authentication": "ok", "chain": "ok", "revocation": "ok"}
    assert "Healthy" in page.result.text()

    page.password.setText("not-the-password")
    with qtbot.waitSignal(page.report_ready, timeout=SLOW):
        page.examine_button.click()
    assert page.verdicts() == {"password": "problem"}
    assert "1 problem to fix" in page.result.text()
    fix = page.tree.topLevelItem(0).child(0).child(0)
    assert fix.text(0) == "Fix" and "handout" in fix.text(1)
