"""Drive the GUI offscreen through every area and wizard page and save PNGs to docs/screenshots/.

Run from the repository root::

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py [--out docs/screenshots]

Everything happens in a temporary workspace with real keys, a real demo site on a
free port, and a real Test Connection run; nothing is mocked except the
passphrase question, which is answered by the script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget, QWizard  # noqa: E402

from core.passwords import generate_password  # noqa: E402
from gui.main_window import Area, MainWindow  # noqa: E402

PASSPHRASE = "screenshot passphrase"  # a throwaway workspace's CA  # noqa: S105
NEXT = QWizard.WizardButton.NextButton
FINISH = QWizard.WizardButton.FinishButton


def wait_until(predicate: Callable[[], bool], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("the GUI did not get there in time")
        QTest.qWait(20)


class Shooter:
    def __init__(self, out: Path) -> None:
        self.out = out
        self.saved: list[Path] = []

    def __call__(self, widget: QWidget, name: str) -> None:
        QTest.qWait(50)  # let layouts settle and queued signals land
        path = self.out / f"{name}.png"
        if not widget.grab().save(str(path)):
            raise OSError(f"could not save {path}")
        self.saved.append(path)
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


def close_message_boxes(window: MainWindow) -> None:
    from PySide6.QtWidgets import QMessageBox

    for box in window.findChildren(QMessageBox):
        box.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    app = QApplication.instance() or QApplication(["screenshots"])
    shoot = Shooter(args.out)

    with tempfile.TemporaryDirectory(prefix="mtls-lab-shots-") as tmp:
        window = MainWindow(Path(tmp) / "mTLS-Lab")
        window.messages.ask = lambda *a, **k: PASSPHRASE  # type: ignore[method-assign]
        window.resize(1100, 720)
        window.show()
        idle = lambda: not window.tasks.busy  # noqa: E731
        try:
            shoot(window, "authority-empty")

            # -- Create CA wizard -----------------------------------------------------
            wizard = window.open_create_ca()
            wizard.names_page.common_name.setText("Networks 101 Classroom CA")
            wizard.names_page.organization.setText("Hilltop School")
            shoot(wizard, "wizard-create-ca-1")
            wizard.button(NEXT).click()
            shoot(wizard, "wizard-create-ca-2")
            wizard.button(NEXT).click()
            wizard.passphrase_page.passphrase.setText(PASSPHRASE)
            wizard.passphrase_page.confirmation.setText(PASSPHRASE + "x")
            wizard.button(NEXT).click()  # refused: shows the mismatch message
            shoot(wizard, "wizard-create-ca-3-mismatch")
            wizard.passphrase_page.confirmation.setText(PASSPHRASE)
            shoot(wizard, "wizard-create-ca-3")
            wizard.button(NEXT).click()
            shoot(wizard, "wizard-create-ca-4")
            wizard.button(FINISH).click()
            wait_until(idle)
            close_message_boxes(window)

            # -- server certificate, then one bundle through its wizard ------------------
            window.authority_page.issue_server_button.click()
            wait_until(idle)
            close_message_boxes(window)
            window.authority_page.issue_bundle_button.click()
            wait_until(lambda: isinstance(window.wizard, QWizard) and window.wizard is not wizard)
            bundle_wizard = window.wizard
            assert bundle_wizard is not None
            bundle_wizard.student_page.name.setText("Ada Lovelace")
            bundle_wizard.student_page.email.setText("ada@example.org")
            shoot(bundle_wizard, "wizard-issue-bundle-1")
            bundle_wizard.button(NEXT).click()
            bundle_password = bundle_wizard.password_page.password.text()
            shoot(bundle_wizard, "wizard-issue-bundle-2")
            bundle_wizard.button(NEXT).click()
            shoot(bundle_wizard, "wizard-issue-bundle-3")
            bundle_wizard.button(FINISH).click()
            wait_until(idle)
            shoot(window.bundle_dialog, "bundle-ready")
            window.bundle_dialog.close()

            # A few more rows for the table, straight through core (the GUI path is shown above).
            ws, authority = window.workspace, window.session.authority
            assert authority is not None
            ws.issue_client_bundle(authority, name="Alan Turing", password=generate_password(), valid_days=30)
            ws.issue_client_bundle(authority, name="Grace Hopper", password=generate_password(), valid_days=90)
            window.session.certificates_changed.emit()

            window.show_area(Area.AUTHORITY)
            shoot(window, "authority")
            window.show_area(Area.CERTIFICATES)
            shoot(window, "certificates")
            window.certificates_page.search.setText("client")
            shoot(window, "certificates-search")
            window.certificates_page.search.clear()

            # -- demo site ---------------------------------------------------------------
            window.show_area(Area.DEMO_SITE)
            site_page = window.demo_site_page
            site_page.username.setText("ada")
            site_page.generate_button.click()
            user_password = site_page.password.text()
            site_page.save_user_button.click()
            wait_until(idle)
            site_page.port.setValue(0)
            site_page.start_button.click()
            wait_until(lambda: window.session.site is not None)

            # -- test connection: one good run, one with a wrong password ------------------
            test_page = window.test_connection_page
            test_page.bundle_password.setText(bundle_password)
            test_page.username.setText("ada")
            test_page.password.setText(user_password)
            window.show_area(Area.TEST_CONNECTION)
            test_page.run_button.click()
            wait_until(lambda: idle() and test_page.report is not None)
            shoot(window, "test-connection")
            test_page.bundle_password.setText("not-the-bundle-password")
            test_page.run_button.click()
            wait_until(lambda: idle() and test_page.report is not None)
            shoot(window, "test-connection-failed")
            test_page.bundle_password.setText(bundle_password)
            good_bundle = test_page.bundle_file.text()
            test_page.bundle_file.clear()  # what the server does when no certificate is sent
            test_page.run_button.click()
            wait_until(lambda: idle() and test_page.report is not None)
            shoot(window, "test-connection-no-certificate")
            test_page.bundle_file.setText(good_bundle)

            # -- bundle doctor: the bundle just issued, then a wrong password ----------------
            doctor = window.doctor_page
            doctor.bundle_file.setText(good_bundle)
            doctor.password.setText(bundle_password)
            window.show_area(Area.BUNDLE_DOCTOR)
            doctor.examine_button.click()
            wait_until(lambda: idle() and doctor.report is not None)
            shoot(window, "doctor")
            doctor.password.setText("not-the-bundle-password")
            doctor.report = None
            doctor.examine_button.click()
            wait_until(lambda: idle() and doctor.report is not None)
            shoot(window, "doctor-problem")

            window.show_area(Area.DEMO_SITE)
            wait_until(lambda: site_page.log.count() >= 4)
            shoot(window, "demo-site")
        finally:
            window.close()
            app.processEvents()
    print(f"{len(shoot.saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
