"""Student help: how to trust the CA and import the bundle, naming this workspace's files, plus an NSS import."""

from __future__ import annotations

from html import escape
from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from core import nss
from core.authority import common_name
from gui.messages import sentence
from gui.session import Session

_STEPS = """
<h3>1. Trust the class's CA ({ca})</h3>
<p>The CA certificate tells the browser that the demo site is genuine. Import it as an <b>authority</b>.</p>
<ul>
<li><b>Firefox</b> (Windows, macOS, Linux): Settings → Privacy &amp; Security → Certificates → <i>View
    Certificates…</i> → <i>Authorities</i> → <i>Import…</i> → choose <code>{ca_file}</code> → tick
    <i>Trust this CA to identify websites</i>.</li>
<li><b>Chrome / Edge on Windows</b>: double-click <code>{ca_file}</code> → <i>Install
    Certificate…</i> → <i>Current User</i> → <i>Place all certificates in the following store</i> → <i>Trusted Root
    Certification Authorities</i>.</li>
<li><b>Chrome / Safari on macOS</b>: double-click <code>{ca_file}</code> to add it to the <i>login</i> keychain, then in
    Keychain Access open it → <i>Trust</i> → <i>When using this certificate: Always Trust</i>.</li>
<li><b>Chrome / Chromium on Linux</b>: Settings → Privacy and security → Security → <i>Manage certificates</i> →
    <i>Authorities</i> → <i>Import</i> → <code>{ca_file}</code> → <i>Trust this certificate for identifying
    websites</i> (or use the import button below).</li>
</ul>
<h3>2. Import your bundle ({bundle_name})</h3>
<p>The bundle holds your private key and your certificate: the thing you <b>own</b>. Its password is on the
handout (it is not your login password).</p>
<ul>
<li><b>Firefox</b>: Certificates → <i>View Certificates…</i> → <i>Your Certificates</i> → <i>Import…</i> →
    <code>{bundle}</code>.</li>
<li><b>Windows</b>: double-click the <code>.p12</code> → <i>Current User</i> → type the password → let Windows
    choose the store.</li>
<li><b>macOS</b>: double-click the <code>.p12</code> → <i>login</i> keychain → type the password. If macOS says the
    password is wrong although it is right, ask for a bundle in the <i>compatible</i> profile.</li>
<li><b>Linux Chrome / Chromium</b>: <i>Manage certificates</i> → <i>Your certificates</i> → <i>Import</i>.</li>
</ul>
<h3>3. Open the site</h3>
<p>Open <code>{url}</code>. The browser asks which certificate to present: choose yours. Then log in with your
username and password (what you <b>know</b>).</p>
<h3>When it does not work</h3>
<ul>
<li><i>Your connection is not private</i> / <i>SEC_ERROR_UNKNOWN_ISSUER</i>: step 1 is missing (the CA is not
    trusted).</li>
<li><i>ERR_BAD_SSL_CLIENT_AUTH_CERT</i> / <i>SSL_ERROR_HANDSHAKE_FAILURE_ALERT</i> /
    <i>certificate required</i>: no certificate, or the wrong one, was presented: redo step 2, restart the
    browser.</li>
<li>Still stuck: run <b>Test Connection</b> with your bundle; it names the failing step and the fix.</li>
</ul>
"""


class StudentHelpPage(QWidget):
    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.text = QTextBrowser()
        self.text.setOpenExternalLinks(False)

        box = QGroupBox("Import into a browser on this computer (Firefox or Chromium, Linux)")
        self.profile = QComboBox()
        self.profile.setEditable(True)
        self.profile.setToolTip("The NSS certificate database of the browser profile (the folder holding cert9.db)")
        line = self.profile.lineEdit()
        assert line is not None
        line.setPlaceholderText("no Firefox or Chromium profile found: type the folder holding cert9.db")
        self.bundle = QLineEdit()
        self.bundle.setToolTip("The student's .p12 to import")
        self.bundle_password = QLineEdit()
        self.bundle_password.setToolTip("The bundle's password, from the handout")
        self.bundle_password.setEchoMode(QLineEdit.EchoMode.Password)
        self.import_button = QPushButton("Import CA and bundle")
        self.import_button.setToolTip('Trust the class CA and import the bundle into the chosen Firefox or '
                                      'Chromium profile (certutil, pk12util)')
        self.import_button.clicked.connect(self.import_into_browser)
        self.result = QLabel()
        self.result.setWordWrap(True)
        form = QFormLayout(box)
        form.addRow("Browser profile:", self.profile)
        form.addRow("Bundle:", self.bundle)
        form.addRow("Bundle password:", self.bundle_password)
        row = QHBoxLayout()
        row.addWidget(self.import_button)
        row.addWidget(self.result, 1)
        form.addRow(row)
        if not nss.tools_available():
            box.setEnabled(False)
            box.setToolTip("certutil and pk12util are not installed (Debian/Ubuntu: sudo apt install libnss3-tools)")

        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("<h2>Student help</h2>"))
        layout.addWidget(self.text, 1)
        layout.addWidget(box)
        session.ca_changed.connect(self.refresh)
        session.bundle_issued.connect(self.refresh)
        session.site_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ws = self.session.workspace
        ca_file = str(ws.ca_cert_path) if ws.has_ca() else "ca.crt (create the CA first)"
        ca = common_name(ws.ca_certificate()) if ws.has_ca() else "the class CA"
        bundle: Path | None = self.session.last_bundle.path if self.session.last_bundle else None
        if bundle is None:
            bundle = self._newest_bundle()
        bundle_text = str(bundle) if bundle else str(ws.clients_dir / "YOUR-NAME.p12")
        url = self.session.site_url or "https://localhost:8443/ (start the Demo Site first)"
        self.text.setHtml(_STEPS.format(
            ca=escape(ca), ca_file=escape(ca_file), bundle=escape(bundle_text),
            bundle_name=escape(Path(bundle_text).name), url=escape(url)))
        if not self.bundle.text() and bundle:
            self.bundle.setText(str(bundle))
        if self.session.last_bundle and not self.bundle_password.text():
            self.bundle_password.setText(self.session.last_bundle.password)
        current = self.profile.currentText()
        self.profile.clear()
        for found in nss.find_profiles():
            self.profile.addItem(found.label, str(found.path))
        if current:
            self.profile.setEditText(current)

    def _newest_bundle(self) -> Path | None:
        """The newest valid client bundle in the registry (roster bundles may live outside clients/)."""
        ws = self.session.workspace
        if not ws.registry_path.exists():
            return None
        try:
            for record in ws.registry.list(kind="client", status="valid", limit=20):
                if record.bundle_path and ws.path_of(record.bundle_path).is_file():
                    return ws.path_of(record.bundle_path)
        except (OSError, ValueError):
            return None
        return None

    def profile_path(self) -> Path | None:
        index = self.profile.currentIndex()
        text = self.profile.currentText().strip()
        if index >= 0 and self.profile.itemText(index) == text:
            return Path(str(self.profile.itemData(index)))
        return Path(text).expanduser() if text else None

    def import_into_browser(self) -> None:
        ws = self.session.workspace
        db = self.profile_path()
        if db is None or not ws.has_ca():
            self.session.messages.error("Nothing to import into", "Choose a browser profile (and create the CA first).")
            return
        bundle = Path(self.bundle.text().strip())
        password = self.bundle_password.text()
        ca_name = common_name(ws.ca_certificate())
        self.import_button.setEnabled(False)
        self.result.setText("Importing…")

        def done(_result: object) -> None:
            self.import_button.setEnabled(True)
            self.result.setText(f"Imported into {db}. Restart the browser, then open the site.")

        def failed(message: str) -> None:
            self.import_button.setEnabled(True)
            self.result.setText("")
            self.session.messages.error("Import failed", sentence(message))

        self.session.tasks.run(
            lambda: nss.import_into_nss(db, ca_cert=ws.ca_cert_path, ca_name=ca_name, bundle=bundle,
                                        bundle_password=password),
            on_success=done, on_failure=failed, owner=self, label="import into browser",
        )
        self.result.setAlignment(Qt.AlignmentFlag.AlignLeft)
