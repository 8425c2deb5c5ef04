"""The certificates table model over a real registry."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from core.workspace import Workspace
from gui.certificates_model import CertificateModel, Column, make_proxy
from tests.gui.conftest import CA_PASSPHRASE


@pytest.fixture
def records(workspace_with_server: Workspace):
    ws = workspace_with_server
    authority = ws.load_ca(CA_PASSPHRASE)
    ws.issue_client_bundle(authority, name="Ada Lovelace", password="ada-password-1")
    ws.issue_client_bundle(authority, name="Alan Turing", password="alan-password-1", valid_days=30)
    return ws.registry.list()


def test_model_passes_qtmodeltester(qtmodeltester, records) -> None:
    model = CertificateModel()
    qtmodeltester.check(model)
    model.set_records(records)
    qtmodeltester.check(model)
    assert model.rowCount() == 4
    assert model.columnCount() == len(Column)
    assert model.headerData(Column.VALID_UNTIL, Qt.Orientation.Horizontal) == "Valid until"


def test_proxy_passes_qtmodeltester_and_filters(qtmodeltester, records) -> None:
    model = CertificateModel()
    model.set_records(records)
    proxy = make_proxy(model)
    qtmodeltester.check(proxy)
    proxy.setFilterFixedString("client")
    assert proxy.rowCount() == 2
    proxy.setFilterFixedString("TURING")
    assert proxy.rowCount() == 1
    assert proxy.index(0, Column.NAME).data() == "Alan Turing"
    proxy.setFilterFixedString("")
    proxy.sort(Column.VALID_UNTIL, Qt.SortOrder.AscendingOrder)
    assert proxy.index(0, Column.NAME).data() == "Alan Turing"  # 30 days: expires first
    assert proxy.index(3, Column.KIND).data() == "CA"  # ten years: expires last
    qtmodeltester.check(proxy)


def test_status_column_words_and_colours(records, workspace_with_server: Workspace) -> None:
    ws = workspace_with_server
    ws.revoke(ws.load_ca(CA_PASSPHRASE), "Ada Lovelace")
    model = CertificateModel()
    model.set_records(ws.registry.list())
    rows = {model.index(r, Column.NAME).data(): r for r in range(model.rowCount())}
    status = {name: model.index(r, Column.STATUS).data() for name, r in rows.items()}
    assert status["Alan Turing"] == "expiring soon"  # 30 days left
    assert status["Ada Lovelace"] == "revoked"
    assert status["localhost"] == "valid"
    colour = {name: model.index(r, Column.STATUS).data(Qt.ItemDataRole.ForegroundRole).color().name()
              for name, r in rows.items()}
    assert colour["Alan Turing"] != colour["localhost"] != colour["Ada Lovelace"]
