"""The session keeps the CRL fresh while the CA is unlocked (a stale CRL would lock every student out)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography import x509

from core.revocation import build_crl, crl_is_fresh, crl_pem_der
from core.workspace import Workspace
from gui.session import CRL_CHECK_MS
from tests.gui.conftest import wait_idle


def _stale_crl(ws: Workspace) -> int:
    authority = ws.load_ca("correct horse battery")
    pem, der = crl_pem_der(build_crl(authority, ws.registry, validity=dt.timedelta(days=2)))
    ws.crl_pem_path.write_bytes(pem)
    ws.crl_der_path.write_bytes(der)
    assert not crl_is_fresh(pem)
    return int(x509.load_pem_x509_crl(pem).extensions.get_extension_for_class(x509.CRLNumber).value.crl_number)


def test_an_unlocked_ca_re_signs_a_crl_close_to_its_next_update(make_window, workspace_with_server, qtbot) -> None:  # type: ignore[no-untyped-def]
    ws = workspace_with_server
    window = make_window(ws.root)
    session = window.session
    assert not session.crl_timer.isActive()  # nothing to sign with until the CA is unlocked
    session.with_authority(lambda _authority: None)
    wait_idle(qtbot, window)
    assert session.authority is not None
    assert session.crl_timer.isActive() and session.crl_timer.interval() == CRL_CHECK_MS

    number = _stale_crl(ws)
    session.crl_timer.timeout.emit()  # what the hourly tick does
    wait_idle(qtbot, window)
    crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    assert crl_is_fresh(ws.crl_pem_path.read_bytes())
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number > number


def test_the_ca_passphrase_lives_only_in_memory(make_window, workspace_with_server, qtbot, answers) -> None:  # type: ignore[no-untyped-def]
    """Unlocked once, asked once, written nowhere: not in the settings, not in the workspace."""
    from PySide6.QtCore import QSettings

    from gui.settings import app_settings

    ws = workspace_with_server
    window = make_window(ws.root)
    for _ in range(3):
        window.session.with_authority(lambda _authority: None)
        wait_idle(qtbot, window)
    assert answers.asked.count("Unlock the CA") == 1
    window.close()
    settings = app_settings()
    settings.sync()
    written = [p for p in (ws.root.rglob("*")) if p.is_file()]
    settings_file = settings.fileName()
    if settings.format() == QSettings.Format.IniFormat:
        written.append(Path(settings_file))
    secret = answers.passphrase.encode() if answers.passphrase else b""
    assert secret and all(secret not in p.read_bytes() for p in written), [p for p in written
                                                                          if secret in p.read_bytes()]
