"""The workspace on disk: encrypted keys, owner-only files, refusals that lose nothing."""

from __future__ import annotations

import base64
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509

import core.workspace as workspace_module
from core.bundles import BundleProfile, read_p12
from core.keys import KeyType, key_type_of
from core.site_users import UserStore
from core.workspace import Workspace, WorkspaceError, WrongPassphraseError, slugify
from tests.conftest import BUNDLE_PASSWORD, CA_PASSPHRASE, Classroom, poll_until


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
    assert mode(ws.registry_path) == 0o600  # it names every student and their e-mail address


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
    with pytest.raises(WorkspaceError, match="already has a valid certificate"):
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
    ("Иван Петров", "иван-петров"),  # no Latin letters: the name's own letters, not a refusal
    ("山田 太郎", "山田-太郎"),
    ("Con", "con-student"),  # a device name on Windows
    ("Øyvind Łukasz Straße", "oyvind-lukasz-strasse"),  # letters NFKD cannot take apart
])
def test_names_become_safe_file_names(name: str, stem: str) -> None:
    assert slugify(name) == stem


def test_a_student_named_in_another_script_gets_a_bundle(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Script CA", passphrase=CA_PASSPHRASE)
    issued = ws.issue_client_bundle(authority, name="Иван Петров", password=BUNDLE_PASSWORD)
    assert issued.bundle_path.name == "иван-петров.p12"
    assert read_p12(issued.bundle_path, BUNDLE_PASSWORD).friendly_name == "Иван Петров"
    _agree(ws)


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


# -- consistency: rows and files agree after any crash ---------------------------------
def _agree(ws: Workspace) -> None:
    """Every finished row's files exist, and every file in clients/ belongs to a row."""
    rows = ws.registry.list()
    recorded = set()
    for r in rows:
        for stored in (r.cert_path, r.bundle_path):
            if stored:
                assert ws.path_of(stored).is_file(), f"row {r.serial} lost {stored}"
                recorded.add(ws.path_of(stored).resolve())
    assert not ws.registry.pending()
    for f in ws.clients_dir.rglob("*"):
        if f.is_file():
            assert f.resolve() in recorded, f"{f} has no registry row"


@pytest.mark.parametrize("step", ["row-added", "bundle-written", "cert-written"])
def test_exception_mid_write_leaves_no_files_or_rows(tmp_path: Path, step: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Crash CA", passphrase=CA_PASSPHRASE)

    def crash(at: str) -> None:
        if at == step:
            raise RuntimeError("simulated crash")

    monkeypatch.setattr(workspace_module, "crash_hook", crash)
    with pytest.raises(RuntimeError):
        ws.issue_client_bundle(authority, name="Lin", password=BUNDLE_PASSWORD)
    assert not ws.bundle_path_for("Lin").exists()
    _agree(ws)


def test_an_interrupt_after_the_row_is_done_keeps_the_bundle(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C just after the row is marked done: the bundle is complete and recorded, so it stays."""
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Crash CA", passphrase=CA_PASSPHRASE)

    def interrupt(at: str) -> None:
        if at == "row-done":
            raise KeyboardInterrupt

    monkeypatch.setattr(workspace_module, "crash_hook", interrupt)
    with pytest.raises(KeyboardInterrupt):
        ws.issue_client_bundle(authority, name="Lin", password=BUNDLE_PASSWORD)
    assert read_p12(ws.bundle_path_for("Lin"), BUNDLE_PASSWORD).friendly_name == "Lin"
    assert ws.registry.find_client("Lin") is not None
    _agree(ws)


_RACE_CHILD = """
import sys
from pathlib import Path
import core.workspace as w
ws = w.Workspace(sys.argv[1])
a = ws.load_ca(sys.argv[2])
(Path(sys.argv[3]) / ("ready-" + sys.argv[4])).touch()
sys.stdin.readline()  # blocks until the parent releases everyone
try:
    ws.issue_client_bundle(a, name="Race Student", password="bundle-pass-" + sys.argv[4])
except w.WorkspaceError as exc:
    print("refused:", exc)
    sys.exit(3)
print("issued")
"""


def test_four_processes_issuing_one_name_at_once_give_one_bundle(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.create_ca(common_name="Race CA", passphrase=CA_PASSPHRASE)
    procs = [subprocess.Popen([sys.executable, "-c", _RACE_CHILD, str(ws.root), CA_PASSPHRASE, str(tmp_path), str(i)],
                              cwd=Path(__file__).parents[2], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
             for i in range(4)]
    # all four load the CA and wait at the line (a read of their stdin); then one line releases each
    poll_until(lambda: len(list(tmp_path.glob("ready-*"))) == 4, timeout=60, what="four children at the line")
    for p in procs:
        assert p.stdin is not None
        p.stdin.write("go\n")
        p.stdin.flush()
    results = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    assert sorted(codes) == [0, 3, 3, 3], results
    winner = codes.index(0)
    assert read_p12(ws.bundle_path_for("Race Student"), f"bundle-pass-{winner}").friendly_name == "Race Student"
    assert len(ws.registry.list(kind="client", status="valid")) == 1
    assert all("already has a valid certificate" in out or "created by someone else" in out
               for (out, _err), code in zip(results, codes, strict=True) if code == 3)
    _agree(ws)


def test_a_name_a_roster_issued_elsewhere_is_refused_by_issue_client(tmp_path: Path) -> None:
    from core.roster import issue_roster, parse_roster

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Roster CA", passphrase=CA_PASSPHRASE)
    issue_roster(ws, authority, parse_roster(b"name\nRos One\n"), out_dir=tmp_path / "class", workers=1)
    with pytest.raises(WorkspaceError, match="already has a valid certificate"):
        ws.issue_client_bundle(authority, name="ros one", password=BUNDLE_PASSWORD)
    assert not ws.bundle_path_for("Ros One").exists()


_CRASH_CHILD = """
import os, sys
import core.workspace as w
ws = w.Workspace(sys.argv[1])
a = ws.load_ca(sys.argv[2])
w.crash_hook = lambda at: os._exit(9) if at == sys.argv[3] else None
ws.issue_client_bundle(a, name="Mo", password="bundle-pass-123")
"""


@pytest.mark.parametrize("step", ["row-added", "bundle-written", "cert-written"])
def test_killed_process_is_reconciled_on_next_open(tmp_path: Path, step: str) -> None:
    ws = Workspace(tmp_path / "ws")
    ws.create_ca(common_name="Crash CA", passphrase=CA_PASSPHRASE)
    out = subprocess.run([sys.executable, "-c", _CRASH_CHILD, str(ws.root), CA_PASSPHRASE, step],
                         cwd=Path(__file__).parents[2], capture_output=True, text=True, check=False, timeout=120)
    assert out.returncode == 9, out.stderr
    reopened = Workspace(ws.root)
    # the crash after the last file keeps the bundle; earlier crashes roll it back
    kept = step == "cert-written"
    assert reopened.bundle_path_for("Mo").exists() is kept
    assert (reopened.registry.find_client("Mo") is not None) is kept
    _agree(reopened)


def test_revoked_name_can_be_issued_again_and_old_files_are_archived(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Renew CA", passphrase=CA_PASSPHRASE)
    first = ws.issue_client_bundle(authority, name="Ada", password=BUNDLE_PASSWORD)
    old_serial = format(first.certificate.serial_number, "X")
    with pytest.raises(WorkspaceError, match="renew it, or revoke it first"):
        ws.issue_client_bundle(authority, name="Ada", password=BUNDLE_PASSWORD)
    ws.revoke(authority, "Ada")
    second = ws.issue_client_bundle(authority, name="Ada", password=BUNDLE_PASSWORD)
    assert second.bundle_path == first.bundle_path
    old = ws.registry.get(old_serial)
    assert old.status == "revoked"
    assert old.bundle_path == f"clients/archive/ada-{old_serial}.p12"
    assert read_p12(ws.path_of(old.bundle_path), BUNDLE_PASSWORD).certificate == first.certificate
    assert read_p12(second.bundle_path, BUNDLE_PASSWORD).certificate == second.certificate
    _agree(ws)


def test_renew_client_keeps_subject_new_key_and_serial(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Renew CA", organization="School", passphrase=CA_PASSPHRASE)
    first = ws.issue_client_bundle(authority, name="Ada", email="ada@school.example", password=BUNDLE_PASSWORD,
                                   key_type=KeyType.EC_P384, valid_days=30)
    old_serial = format(first.certificate.serial_number, "X")
    new = ws.renew(authority, "Ada", password="new-bundle-pass", revoke_old=True)
    assert new.serial != old_serial
    bundle = read_p12(ws.bundle_path_for("Ada"), "new-bundle-pass")
    assert bundle.certificate.subject == first.certificate.subject
    assert bundle.certificate.public_key() != first.certificate.public_key()
    assert key_type_of(bundle.key) is KeyType.EC_P384
    san = bundle.certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["ada@school.example"]
    old = ws.registry.get(old_serial)
    assert (old.status, old.revocation_reason) == ("revoked", "superseded")
    crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    assert crl.get_revoked_certificate_by_serial_number(first.certificate.serial_number) is not None
    _agree(ws)


def test_renew_server_keeps_hosts(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Renew CA", passphrase=CA_PASSPHRASE)
    old = ws.issue_server(authority, hosts=["lab.example.org", "127.0.0.1"])
    new = ws.renew(authority, format(old.serial_number, "X"))
    cert = ws.server_certificate()
    assert new.serial == format(cert.serial_number, "X") != format(old.serial_number, "X")
    assert cert.subject == old.subject
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v.value) for v in san] == ["lab.example.org", "127.0.0.1"]
    # Its key was replaced with the new one, so the old certificate is superseded: one valid server
    # certificate in the registry, the one the site serves, and the old one kept in the archive.
    record = ws.registry.get(format(old.serial_number, "X"))
    assert (record.status, record.revocation_reason) == ("revoked", "superseded")
    assert ws.certificate_of(record) == [old]
    assert [r.serial for r in ws.registry.list(kind="server", status="valid")] == [new.serial]
    _agree(ws)


def test_issuing_a_server_certificate_again_supersedes_the_old_one(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Renew CA", passphrase=CA_PASSPHRASE)
    first = ws.issue_server(authority)
    second = ws.issue_server(authority, hosts=["localhost", "127.0.0.1", "192.0.2.7"])
    valid = ws.registry.list(kind="server", status="valid")
    assert [r.serial for r in valid] == [format(second.serial_number, "X")]
    assert ws.find("localhost").serial == valid[0].serial  # by name: no "2 valid certificates" any more
    crl = x509.load_pem_x509_crl(ws.crl_pem_path.read_bytes())
    entry = crl.get_revoked_certificate_by_serial_number(first.serial_number)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.superseded
    assert ws.certificate_of(ws.registry.get(format(first.serial_number, "X"))) == [first]
    _agree(ws)


def test_renew_keeps_the_bundle_profile_unless_told(tmp_path: Path) -> None:
    from core.doctor import read_p12_encryption

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Renew CA", passphrase=CA_PASSPHRASE)
    ws.issue_client_bundle(authority, name="Mac User", password=BUNDLE_PASSWORD, profile=BundleProfile.COMPATIBLE)
    ws.renew(authority, "Mac User", password="new-bundle-pass")
    bundle = ws.bundle_path_for("Mac User")
    assert read_p12_encryption(bundle.read_bytes()).profile == "compatible"  # still imports on macOS
    ws.renew(authority, "Mac User", password="newer-bundle-pass", profile=BundleProfile.MODERN)
    assert read_p12_encryption(bundle.read_bytes()).profile == "modern"
    _agree(ws)


def test_registry_migrates_a_v2_registry(tmp_path: Path) -> None:
    import sqlite3

    from core import registry as reg

    db = sqlite3.connect(tmp_path / "r.sqlite3")
    db.executescript(reg._MIGRATIONS[1] + reg._MIGRATIONS[2])
    db.execute("INSERT INTO certificates (serial, kind, common_name, subject, not_before, not_after,"
               " fingerprint_sha256, issued_at) VALUES ('AB', 'client', 'x', 'CN=x', '2026-01-01T00:00:00+00:00',"
               " '2027-01-01T00:00:00+00:00', 'FF', '2026-01-01T00:00:00+00:00')")
    db.execute("PRAGMA user_version = 2")
    db.commit()
    db.close()
    r = reg.Registry(tmp_path / "r.sqlite3")
    assert [x.serial for x in r.list()] == ["AB"]
    assert r.list(search="x", status="valid")[0].pending is False


def test_listing_10000_rows_is_filtered_in_sql(tmp_path: Path, classroom: Classroom) -> None:
    import sqlite3

    ws = Workspace(tmp_path / "ws")
    ws.registry.add(classroom.bundle.certificate, kind="client", cert_path="x.crt")
    db = sqlite3.connect(ws.registry_path)
    db.executemany("INSERT INTO certificates (serial, kind, common_name, subject, not_before, not_after,"
                   " fingerprint_sha256, issued_at) VALUES (?, 'client', ?, 'CN=x', '2026-01-01T00:00:00+00:00',"
                   " '2027-01-01T00:00:00+00:00', 'FF', '2026-01-01T00:00:00+00:00')",
                   [(format(i, "X") + "00", f"Student {i}") for i in range(10_000)])
    db.commit()
    db.close()
    assert ws.registry.count() == 10_001
    assert [r.common_name for r in ws.registry.list(search="student 9999")] == ["Student 9999"]
    assert len(ws.registry.list(search="100%")) == 0  # LIKE wildcards are literal


def test_intermediate_publishes_the_roots_crl_too(tmp_path: Path) -> None:
    import subprocess

    from tests.conftest import need

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Issuing CA", passphrase=CA_PASSPHRASE, intermediate=True)
    bundle = ws.issue_client_bundle(authority, name="Ada", password="bundle-pass-1")
    crls = pem_crls(ws.crl_pem_path.read_bytes())
    assert {c.issuer.rfc4514_string() for c in crls} == {"CN=Issuing CA", "CN=Issuing CA Root"}

    def verify() -> subprocess.CompletedProcess[str]:
        return subprocess.run([need("openssl"), "verify", "-crl_check_all", "-CAfile", str(ws.ca_cert_path),
                               "-CRLfile", str(ws.crl_pem_path), str(bundle.cert_path)],
                              capture_output=True, text=True, check=False)

    assert verify().returncode == 0, verify().stdout + verify().stderr
    ws.revoke(authority, "Ada")
    assert "certificate revoked" in verify().stdout + verify().stderr
    assert len(pem_crls(ws.crl_pem_path.read_bytes())) == 2


def pem_crls(data: bytes) -> list:  # type: ignore[type-arg]
    from cryptography import x509

    marker = b"-----END X509 CRL-----"
    return [x509.load_pem_x509_crl(block + marker) for block in data.split(marker) if block.strip()]


def test_site_folder_is_owner_only(classroom: Classroom) -> None:
    ws = classroom.workspace
    ws.users.set_password("someone", "a-login-password-1")
    assert stat.S_IMODE((ws.root / "site").stat().st_mode) == 0o700
    assert stat.S_IMODE(ws.users_path.stat().st_mode) == 0o600


def test_logins_have_no_default_account_and_every_hash_its_own_salt(tmp_path: Path) -> None:
    from core.passwords import dummy_hash, hash_password, verify_password

    store = UserStore(tmp_path / "users.json")
    assert store.usernames() == []  # a new site lets nobody log in, whatever they try
    for name, password in (("admin", "admin"), ("student", "student"), ("ada", "password")):
        assert not store.verify(name, password)
    store.set_password("ada", "same-password-1")
    store.set_password("grace", "same-password-1")
    raw = json.loads((tmp_path / "users.json").read_text())["users"]
    assert raw["ada"] != raw["grace"]  # salted: the same password never gives the same hash
    assert "same-password-1" not in (tmp_path / "users.json").read_text()
    scheme, n, r, p, salt, _digest = raw["ada"].split("$")
    assert (scheme, int(n), int(r), int(p)) == ("scrypt", 2**14, 8, 1)  # memory-hard: 16 MiB per guess
    assert len(base64.b64decode(salt)) == 16
    # An unknown user is checked against a hash made exactly like a real one: same work, same time.
    dummy = dummy_hash()
    assert dummy.split("$")[:4] == raw["ada"].split("$")[:4]
    assert len(base64.b64decode(dummy.split("$")[4])) == 16
    assert verify_password("same-password-1", raw["ada"]) and not verify_password("same-password-1", dummy)
    assert hash_password("x") != hash_password("x")


def test_a_roster_uses_every_core_by_default(tmp_path: Path) -> None:
    """The batch runs on one worker process per core (os.cpu_count), each seen by the pids it reports."""
    from core.roster import issue_roster, parse_roster

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Core CA", passphrase=CA_PASSPHRASE)
    cores = os.cpu_count() or 1
    seen: set[int] = set()
    import core.roster as roster_module

    real = roster_module.concurrent.futures.ProcessPoolExecutor

    class Counting(real):  # type: ignore[misc,valid-type]
        def __init__(self, *args: object, **kwargs: object) -> None:
            seen.add(int(kwargs["max_workers"]))  # type: ignore[call-overload]
            super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    roster_module.concurrent.futures.ProcessPoolExecutor = Counting  # type: ignore[misc]
    try:
        rows = parse_roster("".join(f"Student {i}\n" for i in range(cores * 3)).encode())
        result = issue_roster(ws, authority, rows, out_dir=tmp_path / "class")
    finally:
        roster_module.concurrent.futures.ProcessPoolExecutor = real  # type: ignore[misc]
    assert result.complete and seen == {cores}


def test_a_revoked_server_certificate_is_archived_when_replaced_and_renew_revoke_old_works(tmp_path: Path) -> None:
    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Server CA", passphrase=CA_PASSPHRASE)
    first = ws.issue_server(authority)
    first_serial = format(first.serial_number, "X")
    ws.revoke(authority, first_serial, reason="keyCompromise")
    second = ws.renew(authority, "localhost")  # by name: the newest, here the revoked one
    record = ws.registry.get(first_serial)
    assert (record.status, record.revocation_reason) == ("revoked", "keyCompromise")  # not overwritten
    assert ws.certificate_of(record) == [first]  # moved to server/archive/, still exportable
    assert record.cert_path == f"server/archive/server-{first_serial}.crt"
    third = ws.renew(authority, second.serial, revoke_old=True)  # the old one is superseded already: no error
    assert ws.registry.get(second.serial).status == "revoked"
    assert [r.serial for r in ws.registry.list(kind="server", status="valid")] == [third.serial]
    _agree(ws)


def test_an_interrupt_after_a_file_is_renamed_into_place_leaves_no_stray_file(tmp_path: Path,
                                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C while the folder is fsynced after the certificate's rename: that file is ours and goes too."""
    import core.storage as storage

    ws = Workspace(tmp_path / "ws")
    authority = ws.create_ca(common_name="Crash CA", passphrase=CA_PASSPHRASE)
    real = storage._fsync_dir
    calls: list[Path] = []

    def interrupted(path: Path) -> None:
        calls.append(path)
        real(path)
        if len(calls) == 2:  # the bundle's, then the certificate's
            raise KeyboardInterrupt

    monkeypatch.setattr(storage, "_fsync_dir", interrupted)
    with pytest.raises(KeyboardInterrupt):
        ws.issue_client_bundle(authority, name="Lin", password=BUNDLE_PASSWORD)
    monkeypatch.setattr(storage, "_fsync_dir", real)
    assert sorted(p.name for p in ws.clients_dir.iterdir()) == []
    assert ws.registry.find_client("Lin") is None
    _agree(ws)
