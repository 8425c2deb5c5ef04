"""The workspace on disk: encrypted keys, owner-only files, refusals that lose nothing."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from core.site_users import UserStore
from core.workspace import Workspace, WorkspaceError, WrongPassphraseError, slugify
from tests.conftest import CA_PASSPHRASE, Classroom


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_private_files_are_owner_only_and_keys_encrypted(classroom: Classroom) -> None:
    ws = classroom.workspace
    for key in (ws.ca_key_path, ws.server_key_path):
        assert mode(key) == 0o600
        assert key.read_text().startswith("-----BEGIN ENCRYPTED PRIVATE KEY-----")
    assert mode(classroom.bundle.bundle_path) == 0o600
    assert mode(ws.users_path) == 0o600
    assert mode(ws.secrets_dir) == 0o700
    assert mode(ws.ca_cert_path) == 0o644


def test_wrong_passphrase(classroom: Classroom) -> None:
    with pytest.raises(WrongPassphraseError, match="passphrase is wrong"):
        classroom.workspace.load_ca("not the passphrase")
    assert classroom.workspace.load_ca(CA_PASSPHRASE).certificate == classroom.authority.certificate


def test_second_ca_is_refused_and_first_kept(classroom: Classroom) -> None:
    before = classroom.workspace.ca_cert_path.read_bytes()
    with pytest.raises(WorkspaceError, match="already has a CA"):
        classroom.workspace.create_ca(common_name="Again", passphrase=CA_PASSPHRASE)
    assert classroom.workspace.ca_cert_path.read_bytes() == before


def test_short_passphrase_refused_without_leaving_files(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    with pytest.raises(ValueError, match="at least 8"):
        ws.create_ca(common_name="CA", passphrase="short")
    assert not ws.has_ca()
    assert not (tmp_path / "ws" / "ca").exists()


def test_existing_bundle_is_not_overwritten(classroom: Classroom) -> None:
    before = classroom.bundle.bundle_path.read_bytes()
    with pytest.raises(WorkspaceError, match="already exists"):
        classroom.workspace.issue_client_bundle(classroom.authority, name="Ada Lovelace", password="another-pass")
    assert classroom.bundle.bundle_path.read_bytes() == before


def test_bad_bundle_password_leaves_no_files_or_rows(classroom: Classroom) -> None:
    rows = len(classroom.workspace.registry.list())
    with pytest.raises(ValueError):
        classroom.workspace.issue_client_bundle(classroom.authority, name="Grace Hopper", password="")
    assert not classroom.workspace.bundle_path_for("Grace Hopper").exists()
    assert len(classroom.workspace.registry.list()) == rows


@pytest.mark.parametrize(("name", "stem"), [
    ("Ada Lovelace", "ada-lovelace"),
    ("../../etc/passwd", "etc-passwd"),
    ("=HYPERLINK(\"x\")", "hyperlink-x"),
    ("Zoë Ñúñez", "zoe-nunez"),
    (".hidden", "hidden"),
])
def test_names_become_safe_file_names(name: str, stem: str) -> None:
    assert slugify(name) == stem


def test_name_without_letters_is_refused() -> None:
    with pytest.raises(ValueError, match="no letters or digits"):
        slugify("../..")


def test_registry_records_every_issue(classroom: Classroom) -> None:
    kinds = {r.kind for r in classroom.workspace.registry.list()}
    assert {"ca", "server", "client"} <= kinds
    rec = classroom.workspace.registry.find_client("Ada Lovelace")
    assert rec is not None and rec.bundle_path == "clients/ada-lovelace.p12"
    assert rec.serial == format(classroom.bundle.certificate.serial_number, "X")


def test_user_passwords_are_hashed(tmp_path: Path) -> None:
    store = UserStore(tmp_path / "users.json")
    store.set_password("ada", "login-pass-456")
    assert "login-pass-456" not in (tmp_path / "users.json").read_text()
    assert store.verify("ada", "login-pass-456")
    assert not store.verify("ada", "login-pass-457")
    assert not store.verify("nobody", "login-pass-456")
    with pytest.raises(ValueError):
        store.set_password("bad name", "login-pass-456")
