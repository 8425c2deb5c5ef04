"""Authority: is there a CA, what is it, and the buttons that make certificates."""

from __future__ import annotations

from cryptography import x509
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import (
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from core.authority import Authority, common_name, organization
from core.keys import key_type_of
from core.registry import fingerprint
from gui.messages import sentence
from gui.session import Session

SERVER_HOSTS = ("localhost", "127.0.0.1", "::1")


def _san(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [common_name(cert)]
    return [str(v) for v in san.get_values_for_type(x509.DNSName) + san.get_values_for_type(x509.IPAddress)]


def _value_label() -> QLabel:
    label = QLabel()
    label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
    label.setWordWrap(True)
    return label


class AuthorityPage(QWidget):
    """Shows the CA and server certificate; asks the main window to open the wizards."""

    create_ca_requested = Signal()
    issue_bundle_requested = Signal()
    issue_server_wizard_requested = Signal()
    roster_requested = Signal()

    def __init__(self, session: Session, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        heading = QLabel("<h2>Certificate authority</h2>")
        self.intro = QLabel()
        self.intro.setWordWrap(True)

        ca_box = QGroupBox("CA certificate")
        ca_form = QFormLayout(ca_box)
        self.state = _value_label()
        self.name = _value_label()
        self.organization = _value_label()
        self.key_type = _value_label()
        self.valid_until = _value_label()
        self.fingerprint = _value_label()
        self.fingerprint.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.cert_path = _value_label()
        self.unlocked = _value_label()
        for caption, widget in (
            ("Status:", self.state),
            ("Name:", self.name),
            ("Organization:", self.organization),
            ("Key type:", self.key_type),
            ("Valid until:", self.valid_until),
            ("SHA-256 fingerprint:", self.fingerprint),
            ("Certificate file:", self.cert_path),
            ("CA key:", self.unlocked),
        ):
            ca_form.addRow(caption, widget)

        server_box = QGroupBox("Demo site certificate")
        server_form = QFormLayout(server_box)
        self.server_state = _value_label()
        server_form.addRow("Status:", self.server_state)

        self.create_ca_button = QPushButton("Create CA…")
        self.create_ca_button.setToolTip("Create this workspace's certificate authority (once; then import "
                                         "a CA only into a new folder)")
        self.issue_server_button = QPushButton("Issue server certificate")
        self.issue_server_button.setToolTip("For " + ", ".join(SERVER_HOSTS) + "; replaces the current one.")
        self.classroom_server_button = QPushButton("Server certificate for a classroom…")
        self.classroom_server_button.setToolTip(
            "Choose the names and addresses students will type (this computer's are filled in), key and lifetime"
        )
        self.classroom_server_button.clicked.connect(self.issue_server_wizard_requested)
        self.issue_bundle_button = QPushButton("Issue client bundle…")
        self.issue_bundle_button.setToolTip("One student's password-protected .p12: their key, certificate "
                                            "and this CA's certificate")
        self.roster_button = QPushButton("Bundles for a class list…")
        self.roster_button.setToolTip("One bundle per line of a CSV roster, plus a handout of file names and passwords")
        self.roster_button.clicked.connect(self.roster_requested)
        self.create_ca_button.clicked.connect(self.create_ca_requested)
        self.issue_server_button.clicked.connect(self.issue_server)
        self.issue_bundle_button.clicked.connect(self.issue_bundle_requested)
        buttons = QHBoxLayout()
        for b in (self.create_ca_button, self.issue_server_button, self.classroom_server_button,
                  self.issue_bundle_button, self.roster_button):
            buttons.addWidget(b)
        buttons.addStretch(1)

        layout = QVBoxLayout(self)
        layout.addWidget(heading)
        layout.addWidget(self.intro)
        layout.addWidget(ca_box)
        layout.addWidget(server_box)
        layout.addLayout(buttons)
        layout.addStretch(1)

        session.ca_changed.connect(self.refresh)
        session.certificates_changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        ws = self.session.workspace
        has_ca = ws.has_ca()
        self.create_ca_button.setEnabled(not has_ca)
        self.issue_server_button.setEnabled(has_ca)
        self.classroom_server_button.setEnabled(has_ca)
        self.issue_bundle_button.setEnabled(has_ca)
        self.roster_button.setEnabled(has_ca)
        if not has_ca:
            self.intro.setText(
                "A certificate authority (CA) signs the certificates your demo site and your students use. "
                "The site trusts exactly the client certificates this CA signed. Start by creating one."
            )
            self.state.setText("No CA in this workspace yet")
            for label in (self.name, self.organization, self.key_type, self.valid_until, self.fingerprint,
                          self.cert_path, self.unlocked):
                label.setText("—")
            self.server_state.setText("—")
            return
        self.intro.setText(
            "Hand the CA certificate file (ca.crt) to students: their browser uses it to trust the demo site. "
            "Never hand out the CA key."
        )
        try:
            cert = ws.ca_certificate()
        except (OSError, ValueError) as exc:
            self.state.setText(f"The CA certificate cannot be read: {exc}")
            return
        self.state.setText("Ready")
        self.name.setText(common_name(cert))
        self.organization.setText(organization(cert) or "—")
        try:
            self.key_type.setText(key_type_of(cert.public_key()).label)
        except ValueError as exc:
            self.key_type.setText(sentence(str(exc)))
        self.valid_until.setText(cert.not_valid_after_utc.astimezone().strftime("%Y-%m-%d %H:%M"))
        self.fingerprint.setText(fingerprint(cert))
        self.cert_path.setText(str(ws.ca_cert_path))
        self.unlocked.setText(
            "unlocked for this session" if self.session.authority is not None
            else "locked (the passphrase is asked when you issue a certificate)"
        )
        if ws.has_server():
            try:
                server = ws.server_certificate()
                until = server.not_valid_after_utc.astimezone().strftime("%Y-%m-%d %H:%M")
                self.server_state.setText(f"Issued for {', '.join(_san(server))}, valid until {until}")
            except (OSError, ValueError) as exc:
                self.server_state.setText(f"The server certificate cannot be read: {exc}")
        else:
            self.server_state.setText("None yet: issue one before starting the demo site")

    def issue_server(self) -> None:
        self.session.with_authority(self._issue_server_with)

    def _issue_server_with(self, authority: Authority) -> None:
        ws = self.session.workspace
        self.issue_server_button.setEnabled(False)

        def done(_cert: object) -> None:
            # A running site notices the new files itself and uses them for the next connection.
            self.session.certificates_changed.emit()
            self.session.messages.info(
                "Server certificate issued",
                f"The demo site now has a certificate for {', '.join(SERVER_HOSTS)}.",
            )

        def failed(message: str) -> None:
            self.refresh()
            self.session.messages.error("No server certificate", sentence(message))

        self.session.tasks.run(
            lambda: ws.issue_server(authority, hosts=SERVER_HOSTS),
            on_success=done,
            on_failure=failed,
            owner=self,
            label="issue server certificate",
        )

