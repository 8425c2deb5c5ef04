"""Drive the GUI offscreen through every area and wizard page and save PNGs to docs/screenshots/.

Run from the repository root::

    QT_QPA_PLATFORM=offscreen .venv/bin/python tools/screenshots.py [--out docs/screenshots]

Everything happens in a temporary workspace with real keys, a real demo site on a
free port, and a real Test Connection run; nothing is mocked except the
passphrase question, which is answered by the script.

The picture of the site itself in Chromium (site-user-page.png) comes from the browser test::

    MTLSLAB_SCREENSHOT_DIR=docs/screenshots .venv/bin/python -m pytest tests/server/test_browser.py
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QSettings  # noqa: E402
from PySide6.QtTest import QTest  # noqa: E402
from PySide6.QtWidgets import QApplication, QWidget, QWizard  # noqa: E402

from gui.main_window import Area, MainWindow  # noqa: E402
from gui.tones import dark_palette  # noqa: E402
from gui.wizards import IssueBundleWizard, IssueServerWizard, RosterWizard  # noqa: E402
from gui.wizards.roster import Page as RosterPage  # noqa: E402

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


def write_rosters(folder: Path) -> tuple[Path, Path]:
    """A class list that checks out, and one with problems on three lines (Ada's bundle exists by then)."""
    good = folder / "networks-101.csv"
    good.write_text(
        "name,email,password\n"
        "Alan Turing,alan@school.example,\n"
        "Charles Babbage,charles@school.example,\n"
        "Mary Somerville,mary@school.example,\n"
        "Katherine Johnson,katherine@school.example,\n"
        "Edsger Dijkstra,edsger@school.example,\n",
        encoding="utf-8",
    )
    bad = folder / "networks-101-draft.csv"
    bad.write_text("name,email\nAda Lovelace,ada@school.example\n../..,x\nGrace Hopper,not-an-email\n",
                   encoding="utf-8")
    return good, bad


def openssl_ca(folder: Path) -> tuple[Path, Path]:
    """A CA made the way many tutorials make one: no SKI, basicConstraints not critical (two warnings)."""
    cert, key = folder / "old-ca.crt", folder / "old-ca.key"
    subprocess.run(
        [shutil.which("openssl") or "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
         "ec_paramgen_curve:P-256", "-nodes", "-keyout", str(key), "-out", str(cert), "-days", "365",
         "-subj", "/CN=Old School CA/O=Hilltop School",
         "-addext", "basicConstraints=CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign",
         "-addext", "subjectKeyIdentifier=none", "-addext", "authorityKeyIdentifier=none"],
        check=True, capture_output=True)
    return cert, key


def opened_wizard(window: MainWindow, kind: type[QWizard], previous: QWidget | None = None) -> QWizard:
    """The wizard of type ``kind`` the window opens next (unlocking the CA first runs on a worker)."""
    wait_until(lambda: isinstance(window.wizard, kind) and window.wizard is not previous)
    assert window.wizard is not None
    return window.wizard


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots")
    parser.add_argument("--dark", action="store_true",
                        help="use a dark palette, as a system in dark mode gives (Fusion style)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    shoot = Shooter(args.out)

    with tempfile.TemporaryDirectory(prefix="mtls-lab-shots-") as tmp_name:
        tmp = Path(tmp_name)
        # Recent workspaces and window geometry go to the temporary folder, never the user's own settings
        # (gui/settings.py keeps them as IniFormat/UserScope).
        QSettings.setPath(QSettings.Format.IniFormat, QSettings.Scope.UserScope, str(tmp / "settings"))
        app = QApplication.instance() or QApplication(["screenshots"])
        if args.dark:
            app.setStyle("Fusion")
            app.setPalette(dark_palette())
        good_roster, bad_roster = write_rosters(tmp)
        old_cert, old_key = openssl_ca(tmp)
        window = MainWindow(tmp / "mTLS-Lab")
        window.messages.ask = lambda *a, **k: PASSPHRASE  # type: ignore[method-assign]
        window.resize(1100, 720)
        window.show()
        idle = lambda: not window.tasks.busy  # noqa: E731
        try:
            shoot(window, "welcome")

            # -- Quick classroom: every page, then Cancel (the classroom is built below, step by step) ---------
            quick = window.open_quick_classroom()
            quick.ca_page.common_name.setText("Networks 101 Classroom CA")
            quick.ca_page.organization.setText("Hilltop School")
            shoot(quick, "wizard-quick-classroom-1")
            quick.button(NEXT).click()
            quick.passphrase_page.passphrase.setText(PASSPHRASE)
            quick.passphrase_page.confirmation.setText(PASSPHRASE)
            shoot(quick, "wizard-quick-classroom-2")
            quick.button(NEXT).click()
            shoot(quick, "wizard-quick-classroom-3")
            quick.button(NEXT).click()
            quick.students_page.count.setValue(24)
            shoot(quick, "wizard-quick-classroom-4")
            quick.button(NEXT).click()
            shoot(quick, "wizard-quick-classroom-5")
            quick.reject()

            # -- Import CA: an openssl CA with profile warnings, then Cancel ------------------------------
            importer = window.open_import_ca()
            importer.files_page.cert_file.setText(str(old_cert))
            importer.files_page.key_file.setText(str(old_key))
            shoot(importer, "wizard-import-ca-1")
            importer.button(NEXT).click()
            shoot(importer, "wizard-import-ca-2")
            importer.button(NEXT).click()
            importer.passphrase_page.passphrase.setText(PASSPHRASE)
            importer.passphrase_page.confirmation.setText(PASSPHRASE)
            shoot(importer, "wizard-import-ca-3")
            importer.reject()

            window.show_area(Area.AUTHORITY)
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

            # -- server certificate for a classroom, through its wizard ---------------------
            window.authority_page.classroom_server_button.click()
            server_wizard = opened_wizard(window, IssueServerWizard, wizard)
            assert isinstance(server_wizard, IssueServerWizard)
            server_wizard.hosts_page.hosts.setPlainText("localhost\n127.0.0.1\n::1\nclassroom.hilltop.example")
            shoot(server_wizard, "wizard-issue-server-1")
            server_wizard.button(NEXT).click()
            server_wizard.key_page.days.setValue(900)
            shoot(server_wizard, "wizard-issue-server-2-warning")
            server_wizard.key_page.days.setValue(397)
            shoot(server_wizard, "wizard-issue-server-2")
            server_wizard.button(NEXT).click()
            shoot(server_wizard, "wizard-issue-server-3")
            server_wizard.button(FINISH).click()
            wait_until(lambda: idle() and window.workspace.server_cert_path.exists())
            close_message_boxes(window)

            # -- one bundle through its wizard ----------------------------------------------
            window.authority_page.issue_bundle_button.click()
            bundle_wizard = opened_wizard(window, IssueBundleWizard, server_wizard)
            assert isinstance(bundle_wizard, IssueBundleWizard)
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

            # -- bundles for a class list: problems by line, preview, options, the finished batch -------
            window.authority_page.roster_button.click()
            roster = opened_wizard(window, RosterWizard, bundle_wizard)
            assert isinstance(roster, RosterWizard)
            roster.file_page.roster.setText(str(bad_roster))
            roster.button(NEXT).click()  # refused: the problems are listed by line
            shoot(roster, "wizard-roster-1-problems")
            roster.file_page.roster.setText(str(good_roster))
            if not roster.file_page.check():
                raise RuntimeError("the screenshot roster does not check out")
            shoot(roster, "wizard-roster-1")
            roster.button(NEXT).click()
            shoot(roster, "wizard-roster-2")
            roster.button(NEXT).click()
            assert roster.currentId() == RosterPage.ISSUE
            roster.accept()  # Issue
            wait_until(lambda: idle() and roster.batch_result is not None, timeout=180)
            shoot(roster, "wizard-roster-3")
            roster.accept()  # Close

            window.show_area(Area.AUTHORITY)
            shoot(window, "authority")
            window.show_area(Area.CERTIFICATES)
            shoot(window, "certificates")
            window.certificates_page.search.setText("ada")
            shoot(window, "certificates-search")
            window.certificates_page.search.clear()
            certificates = window.certificates_page
            ada = next(r for r in window.workspace.registry.list() if r.common_name == "Ada Lovelace")
            certificates.select_serial(ada.serial)
            details = certificates.show_details()
            assert details is not None
            shoot(details, "certificate-details")
            details.close()

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

            window.show_area(Area.STUDENT_HELP)
            shoot(window, "student-help")

            window.show_area(Area.DEMO_SITE)
            wait_until(lambda: site_page.log.count() >= 4)
            shoot(window, "demo-site")
        finally:
            window.close()
            app.processEvents()

    # Screenshots this script no longer makes would show a GUI that is gone; the Chromium shot of the site stays.
    keep = {p.name for p in shoot.saved} | {"site-user-page.png"}
    for stale in sorted(args.out.glob("*.png")):
        if stale.name not in keep:
            stale.unlink()
            print(f"removed stale {stale.name}")
    print(f"{len(shoot.saved)} screenshots in {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
