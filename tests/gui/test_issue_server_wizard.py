"""Issue server certificate wizard: this machine's names pre-filled, bad hosts refused, the result used."""

from __future__ import annotations

import ipaddress

from cryptography import x509
from PySide6.QtWidgets import QWizard

from core.workspace import Workspace
from gui.wizards.issue_server import IssueServerWizard, Page
from tests.gui.conftest import SLOW, wait_idle

NEXT = QWizard.WizardButton.NextButton


def open_wizard(qtbot, window) -> IssueServerWizard:
    window.authority_page.classroom_server_button.click()
    wait_idle(qtbot, window)  # unlocking the CA runs on a worker
    qtbot.waitUntil(lambda: isinstance(window.wizard, IssueServerWizard), timeout=SLOW)
    assert isinstance(window.wizard, IssueServerWizard)
    return window.wizard


def test_classroom_server_certificate(qtbot, make_window, workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    prefilled = wizard.hosts_page.host_list()
    assert prefilled[:3] == ["localhost", "127.0.0.1", "::1"]
    wizard.hosts_page.hosts.setPlainText("localhost\n127.0.0.1\nclassroom.example\n10.1.2.3")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.KEY
    wizard.key_page.days.setValue(900)
    assert "Apple" in wizard.key_page.warning.text()
    wizard.key_page.days.setValue(397)
    assert wizard.key_page.warning.text() == ""
    wizard.button(NEXT).click()
    assert "classroom.example" in wizard.summary_page.summary.text()
    with qtbot.waitSignal(wizard.issued, timeout=SLOW):
        wizard.accept()
    cert = workspace_with_ca.server_certificate()
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.DNSName) == ["localhost", "classroom.example"]
    assert ipaddress.ip_address("10.1.2.3") in san.get_values_for_type(x509.IPAddress)
    assert "classroom.example" in window.authority_page.server_state.text()


def test_bad_host_blocks_next(qtbot, make_window, workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    wizard = open_wizard(qtbot, window)
    wizard.hosts_page.hosts.setPlainText("localhost\nnot a host")
    wizard.button(NEXT).click()
    assert wizard.currentId() == Page.HOSTS
    assert "'not a host' is not a valid host name" in wizard.hosts_page.error.text()
    wizard.reject()
