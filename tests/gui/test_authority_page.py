"""Authority area: the passphrase is asked once per session; a wrong one is an error, not a crash."""

from __future__ import annotations

from core.workspace import Workspace
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle


def test_wrong_passphrase_shows_error_and_keeps_the_ca_locked(qtbot, make_window, answers,
                                                               workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    page = window.authority_page
    assert page.name.text() == "Fixture CA"
    assert "locked" in page.unlocked.text()

    answers.passphrase = "not the passphrase"
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.issue_server_button.click()
    level, title, text = shown.args
    assert title == "Cannot unlock the CA"
    assert level == "error"
    assert text == "The CA passphrase is wrong."
    wait_idle(qtbot, window)
    assert window.session.authority is None
    assert not workspace_with_ca.has_server()
    assert page.issue_server_button.isEnabled()

    # The right passphrase works, and is not asked again afterwards.
    answers.passphrase = CA_PASSPHRASE
    page.issue_server_button.click()
    wait_idle(qtbot, window)
    assert workspace_with_ca.has_server()
    assert "unlocked" in page.unlocked.text()
    asked = len(answers.asked)
    page.issue_server_button.click()
    wait_idle(qtbot, window)
    assert len(answers.asked) == asked


def test_cancelled_passphrase_does_nothing(qtbot, make_window, answers, workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    answers.passphrase = None
    window.authority_page.issue_bundle_button.click()
    assert window.wizard is None
    assert not window.tasks.busy
    assert window.messages.last is None


def test_empty_workspace_offers_only_create(make_window, tmp_path) -> None:
    window = make_window(tmp_path / "empty")
    page = window.authority_page
    assert page.state.text() == "No CA in this workspace yet"
    assert page.create_ca_button.isEnabled()
    assert not page.issue_server_button.isEnabled()
    assert not page.issue_bundle_button.isEnabled()
