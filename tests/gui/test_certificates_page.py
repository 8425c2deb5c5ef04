"""Certificates area: details, export and revoke on the selected row, against a real workspace."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509

from core.workspace import Workspace
from tests.gui.conftest import CA_PASSPHRASE, SLOW, wait_idle


def issue(ws: Workspace, name: str) -> str:
    bundle = ws.issue_client_bundle(ws.load_ca(CA_PASSPHRASE), name=name, password="bundle-pass-1")
    return format(bundle.certificate.serial_number, "X")


def test_details_show_every_extension(qtbot, make_window, workspace_with_server: Workspace) -> None:
    serial = issue(workspace_with_server, "Ada Lovelace")
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    assert not page.details_button.isEnabled()
    page.select_serial(serial)
    assert page.details_button.isEnabled() and page.revoke_button.isEnabled()
    dialog = page.show_details()
    assert dialog is not None
    fields = dict(dialog.rows)
    assert fields["Subject"] == "CN=Ada Lovelace"
    assert fields["extendedKeyUsage"] == "TLS client (clientAuth)"
    assert "basicConstraints (critical)" in fields
    dialog.close()


def test_export_pem_and_der(qtbot, make_window, answers, workspace_with_server: Workspace, tmp_path: Path) -> None:
    serial = issue(workspace_with_server, "Grace Hopper")
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    page.select_serial(serial)
    for name, loader in (("grace.crt", x509.load_pem_x509_certificate), ("grace.cer", x509.load_der_x509_certificate)):
        answers.save_to = str(tmp_path / name)
        with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
            page.export_button.click()
        assert shown.args[0] == "info"
        cert = loader((tmp_path / name).read_bytes())
        assert format(cert.serial_number, "X") == serial


def test_export_a_bundle_copy_but_never_over_the_workspace_s_own_files(
        qtbot, make_window, answers, workspace_with_server: Workspace, tmp_path: Path) -> None:
    from core.bundles import read_p12

    serial = issue(workspace_with_server, "Grace Hopper")
    record = workspace_with_server.registry.get(serial)
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    page.select_serial(serial)
    answers.save_to = str(tmp_path / "usb" / "grace.p12")
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.export_button.click()
    assert shown.args[0] == "info" and "same password" in shown.args[2]
    copy = tmp_path / "usb" / "grace.p12"
    assert read_p12(copy, "bundle-pass-1").certificate.serial_number == int(serial, 16)
    assert copy.stat().st_mode & 0o077 == 0  # the student's key, even encrypted: owner-only

    bundle = workspace_with_server.path_of(record.bundle_path)
    before = bundle.read_bytes()
    for target in (bundle, workspace_with_server.ca_cert_path):  # the file dialog's "replace?" is not enough
        answers.save_to = str(target)
        with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
            page.export_button.click()
        assert shown.args[0] == "error" and "workspace" in shown.args[2]
    assert bundle.read_bytes() == before


def test_revoke_updates_registry_crl_and_table(qtbot, make_window, answers,
                                               workspace_with_server: Workspace) -> None:
    serial = issue(workspace_with_server, "Alan Turing")
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    page.select_serial(serial)
    answers.choice = "keyCompromise"
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.revoke_button.click()
    wait_idle(qtbot, window)
    assert shown.args[:2] == ["info", "Certificate revoked"]
    assert workspace_with_server.registry.get(serial).status == "revoked"
    crl = x509.load_pem_x509_crl(workspace_with_server.crl_pem_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(int(serial, 16)) is not None
    page.select_serial(serial)
    assert not page.revoke_button.isEnabled()  # already revoked


def test_cancelled_revoke_changes_nothing(qtbot, make_window, answers, workspace_with_server: Workspace) -> None:
    serial = issue(workspace_with_server, "Edsger Dijkstra")
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    page.select_serial(serial)
    answers.choice = None
    page.revoke_button.click()
    wait_idle(qtbot, window)
    assert workspace_with_server.registry.get(serial).status == "valid"


def test_renew_client_revoking_the_old_one(qtbot, make_window, answers, workspace_with_server: Workspace) -> None:
    from core.bundles import read_p12

    old = issue(workspace_with_server, "Barbara Liskov")
    window = make_window(workspace_with_server.root)
    page = window.certificates_page
    page.select_serial(old)
    answers.choice = "Renew and revoke the old one"
    page.renew_button.click()
    wait_idle(qtbot, window)
    qtbot.waitUntil(lambda: hasattr(page, "bundle_dialog"), timeout=SLOW)
    password = page.bundle_dialog.password_field.text()
    bundle = read_p12(Path(page.bundle_dialog.path_field.text()), password)
    assert bundle.certificate.subject.rfc4514_string() == "CN=Barbara Liskov"
    assert format(bundle.certificate.serial_number, "X") != old
    assert workspace_with_server.registry.get(old).status == "revoked"
    page.bundle_dialog.close()
