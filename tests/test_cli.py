"""The command line, run as a user would: a real subprocess with no terminal (one test gives it a pty)."""

from __future__ import annotations

import contextlib
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSLAB_")}
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(ROOT / "main.py"), *args], capture_output=True, text=True,
                          timeout=120, stdin=subprocess.DEVNULL, env=full_env, cwd=ROOT, check=False)


def test_demo_json_passes_then_reuses(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    first = cli("demo", "--workspace", str(ws), "--json")
    assert first.returncode == 0, first.stdout + first.stderr
    data = json.loads(first.stdout)
    assert data["ok"] is True
    assert [s["status"] for s in data["test"]["steps"]] == ["ok"] * 6
    assert {s["step"]: s["status"] for s in data["setup"] if s["step"] != "site"} == {
        "ca": "created", "server-certificate": "created", "client-bundle": "created", "demo-user": "created"}
    ca_before = (ws / "ca" / "ca.crt").read_bytes()

    second = cli("demo", "--workspace", str(ws), "--json")
    assert second.returncode == 0, second.stdout + second.stderr
    data2 = json.loads(second.stdout)
    assert data2["ok"] is True
    assert {s["step"]: s["status"] for s in data2["setup"] if s["step"] != "site"} == {
        "ca": "reused", "server-certificate": "reused", "client-bundle": "reused", "demo-user": "reused"}
    assert (ws / "ca" / "ca.crt").read_bytes() == ca_before
    # Generated secrets are kept owner-only and never printed.
    for name in ("ca-passphrase", "demo-student.p12.password", "demo-user.password"):
        secret = ws / "secrets" / name
        assert stat.S_IMODE(secret.stat().st_mode) == 0o600
        assert secret.read_text().strip() not in first.stdout


def test_test_command_names_the_failed_step(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    pw = tmp_path / "pw"
    pw.write_text("definitely-wrong\n")
    out = cli("test", "https://localhost:9/", "--ca", str(ws / "ca" / "ca.crt"),
              "--bundle", str(ws / "clients" / "demo-student.p12"), "--bundle-password-file", str(pw))
    assert out.returncode == 1
    assert "The bundle password is wrong." in out.stdout
    assert "failed step: bundle" in out.stderr


def test_secrets_are_never_prompted_without_a_terminal(tmp_path: Path) -> None:
    bundle = tmp_path / "student.p12"
    bundle.write_bytes(b"\x30\x82 a PKCS#12 file needs a password")
    out = cli("test", "https://localhost:9/", "--ca", "x", "--bundle", str(bundle))
    assert out.returncode == 2
    assert "--bundle-password-file" in out.stderr and "MTLSLAB_BUNDLE_PASSWORD" in out.stderr


def test_issue_client_and_list(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    pf = tmp_path / "pass"
    pf.write_text("a-long-ca-passphrase\n")
    assert cli("init", "--workspace", str(ws), "--name", "CLI CA", "--passphrase-file", str(pf)).returncode == 0
    issued = cli("issue-client", "Grace Hopper", "--workspace", str(ws), "--passphrase-file", str(pf), "--json")
    assert issued.returncode == 0, issued.stderr
    data = json.loads(issued.stdout)
    assert Path(data["bundle"]).name == "grace-hopper.p12"
    assert len(data["password"]) >= 16
    listing = json.loads(cli("list", "--workspace", str(ws), "--json").stdout)
    assert [r["name"] for r in listing if r["kind"] == "client"] == ["Grace Hopper"]
    wrong = tmp_path / "wrong"
    wrong.write_text("not-the-passphrase\n")
    bad = cli("issue-client", "Alan", "--workspace", str(ws), "--passphrase-file", str(wrong))
    assert bad.returncode == 2
    assert "error: the CA passphrase is wrong" in bad.stderr


def test_help_lists_the_commands() -> None:
    out = cli("--help")
    assert out.returncode == 0
    for command in ("demo", "serve", "test", "init", "issue-client", "issue-server", "user", "list"):
        assert command in out.stdout


def test_bad_input_gets_one_line_errors_and_creates_nothing(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    typo = tmp_path / "typo"
    a_file = tmp_path / "a-file"
    a_file.write_text("not a folder")
    cases = [
        (("list", "--workspace", str(typo)), "there is no CA"),
        (("list", "--workspace", str(a_file)), "is a file, not a folder"),
        (("serve", "--host", "", "--workspace", str(ws)), "--host is empty"),
        (("serve", "--port", "99999", "--workspace", str(ws)), "not a port number"),
        (("issue-client", "Bob", "--days", "100000000", "--workspace", str(ws)), "at most"),
        (("issue-client", "Bob\u202egpj.exe", "--workspace", str(ws)), "control or invisible"),
        (("issue-client", "Bob", "--email", "<script>@x.y", "--workspace", str(ws)), "not a valid e-mail"),
        (("issue-server", "--host", "999.1.1.1", "--workspace", str(ws)), "not a valid IP address"),
        (("issue-server", "--host", "::0", "--workspace", str(ws)), "'any' address"),
        (("issue-server", "--host", "0.0.0.0", "--workspace", str(ws)), "'any' address"),  # noqa: S104
        (("serve", "--host", "::0", "--port", "0", "--workspace", str(ws)), "every network"),
        (("serve", "--host", "0x0", "--port", "0", "--workspace", str(ws)), "every network"),
        (("init", "--key-type", "ed25519", "--workspace", str(tmp_path / "new")), "browsers"),
    ]
    for args, message in cases:
        out = cli(*args)
        assert out.returncode == 2, (args, out.stderr)
        assert message in out.stderr, (args, out.stderr)
        assert "Traceback" not in out.stderr
    assert not typo.exists()
    assert sorted(p.name for p in (ws / "clients").iterdir()) == ["demo-student.crt", "demo-student.p12"]


def test_corrupt_registry_is_a_plain_error(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    (ws / "registry.sqlite3").write_bytes(b"\x00garbage" * 100)
    for name in ("registry.sqlite3-wal", "registry.sqlite3-shm"):
        (ws / name).unlink(missing_ok=True)
    out = cli("list", "--workspace", str(ws))
    assert out.returncode == 2
    assert "registry is damaged" in out.stderr and "backup" in out.stderr and "Traceback" not in out.stderr


def test_malformed_urls_are_failed_steps_not_crashes(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    for url in ("https://[::1", "https://localhost:99999/", "https://localhost:0/", "ftp://x/"):
        out = cli("test", url, "--ca", str(ws / "ca" / "ca.crt"), "--bundle", str(ws / "clients" / "demo-student.p12"),
                  "--bundle-password-file", str(ws / "secrets" / "demo-student.p12.password"), "--json")
        assert out.returncode == 1, (url, out.stderr)
        steps = json.loads(out.stdout)["steps"]
        assert steps[1]["status"] == "failed" and steps[1]["cause"]


def test_renew_by_name_after_revoking_and_bundle_password_files(tmp_path: Path) -> None:
    from core.bundles import read_p12

    ws = tmp_path / "ws"
    pf = tmp_path / "pass"
    pf.write_text("a-long-ca-passphrase\n")
    bundle_pw = tmp_path / "bundle-pw"
    bundle_pw.write_text("first-bundle-password\n")
    common = ("--workspace", str(ws), "--passphrase-file", str(pf))
    assert cli("init", *common).returncode == 0
    issued = cli("issue-client", "Alice Martin", "--bundle-password-file", str(bundle_pw), *common)
    assert issued.returncode == 0, issued.stderr
    bundle = ws / "clients" / "alice-martin.p12"
    assert read_p12(bundle, "first-bundle-password").friendly_name == "Alice Martin"
    assert cli("revoke", "Alice Martin", *common).returncode == 0

    renewed = cli("renew", "Alice Martin", *common)
    assert renewed.returncode == 0, renewed.stderr
    assert f"New bundle: {bundle}" in renewed.stdout
    assert "handout" not in renewed.stdout  # a bundle of clients/, not of a roster folder with a handout
    password = renewed.stdout.split("Bundle password (shown once): ")[1].split()[0]
    new = read_p12(bundle, password).certificate
    listing = json.loads(cli("list", "--workspace", str(ws), "--json").stdout)
    assert {(r["serial"], r["status"]) for r in listing if r["kind"] == "client"} >= {
        (format(new.serial_number, "X"), "valid")}
    assert sorted(r["status"] for r in listing if r["kind"] == "client") == ["revoked", "valid"]

    # the old spelling still works (hidden), the new one is what --help shows
    bundle_pw.write_text("second-bundle-password\n")
    again = cli("renew", "Alice Martin", "--password-file", str(bundle_pw), *common)
    assert again.returncode == 0, again.stderr
    assert read_p12(bundle, "second-bundle-password").certificate != new
    for command in ("issue-client", "renew", "doctor"):
        shown = cli(command, "--help").stdout
        assert "--bundle-password-file" in shown and "--password-file" not in shown.replace(
            "--bundle-password-file", ""), command
    assert cli("doctor", str(bundle), "--bundle-password-file", str(bundle_pw)).returncode == 0
    assert cli("renew", "Nobody", *common).returncode == 2


def test_test_names_a_missing_or_keyless_bundle_instead_of_asking_for_its_password(tmp_path: Path) -> None:
    pem = tmp_path / "certificate-only.pem"
    pem.write_text("Bag Attributes\n    friendlyName: Ada\n"
                   "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n")
    for bundle, cause in ((tmp_path / "missing.p12", "does not exist"), (pem, "")):
        out = cli("test", "https://localhost:9/", "--ca", str(tmp_path / "ca.crt"), "--bundle", str(bundle),
                  "--json")
        assert out.returncode == 1, out.stderr  # a report, not "no bundle password given" (exit 2)
        step = json.loads(out.stdout)["steps"][0]
        assert (step["key"], step["status"]) == ("bundle", "failed")
        assert cause in step["cause"]


def test_workspace_before_the_command_runs_the_command(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    pf = tmp_path / "pass"
    pf.write_text("a-long-ca-passphrase\n")
    assert cli("init", "--workspace", str(ws), "--passphrase-file", str(pf)).returncode == 0
    for spelling in (["--workspace", str(ws)], [f"--workspace={ws}"]):
        out = cli(*spelling, "list", "--json")
        assert out.returncode == 0, out.stderr
        assert [r["kind"] for r in json.loads(out.stdout)] == ["ca"]


def test_serve_json_serves_a_student_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    import signal

    from tests.conftest import BUNDLE_PASSWORD, make_classroom, need

    room = make_classroom(tmp_path / "ws")
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSLAB_")}
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "serve", "--workspace", str(room.workspace.root),
                             "--port", "0", "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            stdin=subprocess.DEVNULL, text=True, env=env, cwd=ROOT)
    try:
        assert proc.stdout is not None
        started = json.loads(proc.stdout.readline())
        assert started["kind"] == "site-started"
        url = started["url"]
        config = f'cacert = "{room.ca_cert}"\ncert-type = "P12"\ncert = "{room.bundle.bundle_path}:{BUNDLE_PASSWORD}"\n'
        page = subprocess.run([need("curl"), "-sS", "-K", "-", url], input=config, capture_output=True, text=True,
                              timeout=30, check=False)
        assert page.returncode == 0, page.stderr
        assert "CN=Ada Lovelace" in page.stdout
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err
    events = [json.loads(line) for line in out.splitlines()]
    assert "connection-accepted" in [e["kind"] for e in events]
    assert events[-1]["kind"] == "site-stopped"


def test_secret_and_import_files_are_read_with_a_limit(tmp_path: Path) -> None:
    """/dev/zero as a passphrase file grew to gigabytes; blank first lines and Windows line ends are fine."""
    out = cli("init", "--workspace", str(tmp_path / "a"), "--passphrase-file", "/dev/zero")
    assert out.returncode == 2 and "larger than 64 KiB" in out.stderr
    assert not (tmp_path / "a" / "ca").exists()
    pf = tmp_path / "pass"
    pf.write_bytes(b"\r\n  \r\na-long-ca-passphrase\r\n")
    assert cli("init", "--workspace", str(tmp_path / "b"), "--passphrase-file", str(pf)).returncode == 0
    pf2 = tmp_path / "pass2"
    pf2.write_text("a-long-ca-passphrase\n")
    crl = cli("crl", "--workspace", str(tmp_path / "b"), "--passphrase-file", str(pf2))
    assert crl.returncode == 0, crl.stderr  # the same passphrase, read from the line after the blanks
    bad = tmp_path / "latin1"
    bad.write_bytes(b"caf\xe9-passphrase\n")
    out = cli("init", "--workspace", str(tmp_path / "c"), "--passphrase-file", str(bad))
    assert out.returncode == 2 and "not UTF-8" in out.stderr and str(bad) in out.stderr
    out = cli("import-ca", "--workspace", str(tmp_path / "d"), "--cert", "/dev/zero", "--key", "/dev/zero",
              "--passphrase-file", str(pf2))
    assert out.returncode == 2 and "larger than 1024 KiB" in out.stderr


def test_a_full_disk_or_a_replaced_ca_file_is_named_not_blamed_on_the_passphrase(tmp_path: Path) -> None:
    import sqlite3

    import cli as cli_module

    assert "disk is full" in cli_module.registry_problem(sqlite3.OperationalError("database or disk is full"))
    assert "backup" not in cli_module.registry_problem(sqlite3.OperationalError("attempt to write a readonly database"))
    ws = tmp_path / "ws"
    pf = tmp_path / "pass"
    pf.write_text("a-long-ca-passphrase\n")
    assert cli("init", "--workspace", str(ws), "--passphrase-file", str(pf)).returncode == 0
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import ec

    plain = ec.generate_private_key(ec.SECP256R1()).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    key = ws / "ca" / "ca.key"
    for content, message in ((b"garbage", "is damaged"), (plain, "is not encrypted"),
                             (b"-----BEGIN PRIVATE KEY-----\nMIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQg\n"
                              b"-----END PRIVATE KEY-----\n", "is damaged")):
        key.write_bytes(content)
        out = cli("crl", "--workspace", str(ws), "--passphrase-file", str(pf))
        assert out.returncode == 2 and message in out.stderr and "passphrase is wrong" not in out.stderr, out.stderr
    (ws / "ca" / "ca.crt").write_text("garbage\n")
    out = cli("crl", "--workspace", str(ws), "--passphrase-file", str(pf))
    assert out.returncode == 2 and f"{ws / 'ca' / 'ca.crt'} is damaged" in out.stderr, out.stderr


def test_demo_renews_its_student_after_a_revocation_instead_of_failing_every_run(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    assert cli("revoke", "Demo Student", "--workspace", str(ws)).returncode == 0  # e.g. to show a refusal in class
    again = cli("demo", "--workspace", str(ws), "--json")
    assert again.returncode == 0, again.stdout
    result = json.loads(again.stdout)
    assert result["ok"]
    assert next(s for s in result["setup"] if s["step"] == "client-bundle")["status"] == "renewed"


def test_a_typo_at_the_passphrase_prompt_asks_again(tmp_path: Path) -> None:
    """At a real terminal (a pty here): a short passphrase and a mismatch are asked again, not fatal."""
    import pty
    import select

    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSLAB_")}
    pid, fd = pty.fork()
    if pid == 0:  # the child: its controlling terminal is the pty, as at a shell
        os.chdir(ROOT)
        os.execve(sys.executable, [sys.executable, str(ROOT / "main.py"), "init", "--workspace",  # noqa: S606
                                   str(tmp_path / "ws")], env)
    seen = b""

    def answer(prompt: bytes, reply: str) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while prompt not in seen:
            left = deadline - time.monotonic()
            assert left > 0, seen
            if select.select([fd], [], [], left)[0]:
                try:
                    seen += os.read(fd, 4096)
                except OSError:
                    break
        seen = seen.split(prompt, 1)[1]
        os.write(fd, reply.encode() + b"\n")

    answer(b"New CA passphrase: ", "short")
    answer(b"Again: ", "short")
    answer(b"New CA passphrase: ", "a-long-ca-passphrase")  # asked again after "at least 8"
    answer(b"Again: ", "a-long-ca-passphrae")
    answer(b"New CA passphrase: ", "a-long-ca-passphrase")  # and again after the mismatch
    answer(b"Again: ", "a-long-ca-passphrase")
    _, status = os.waitpid(pid, 0)
    with contextlib.suppress(OSError):
        while os.read(fd, 4096):
            pass
    os.close(fd)
    assert os.waitstatus_to_exitcode(status) == 0
    assert (tmp_path / "ws" / "ca" / "ca.crt").is_file()


def test_user_adds_lists_and_removes_logins(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    pf = tmp_path / "pass"
    pf.write_text("a-long-ca-passphrase\n")
    assert cli("init", "--workspace", str(ws), "--passphrase-file", str(pf)).returncode == 0
    assert "no logins yet" in cli("user", "--list", "--workspace", str(ws)).stdout
    added = cli("user", "ada", "--workspace", str(ws), "--json")
    password = json.loads(added.stdout)["password"]
    assert added.returncode == 0 and len(password) == 23  # generated, shown once
    assert json.loads(cli("user", "--list", "--workspace", str(ws), "--json").stdout)["users"] == ["ada"]
    assert password not in (ws / "site" / "users.json").read_text()  # only its salted hash is stored
    assert cli("user", "ada", "--remove", "--workspace", str(ws)).returncode == 0
    gone = cli("user", "ada", "--remove", "--workspace", str(ws))
    assert gone.returncode == 2 and "there is no login 'ada'" in gone.stderr
    assert cli("user", "bad name", "--workspace", str(ws)).returncode == 2


def test_demo_renews_a_revoked_server_certificate_and_renew_says_what_became_of_the_old(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    server = next(r for r in json.loads(cli("list", "--workspace", str(ws), "--json").stdout) if r["kind"] == "server")
    assert cli("revoke", server["serial"], "--workspace", str(ws)).returncode == 0
    again = json.loads(cli("demo", "--workspace", str(ws), "--json").stdout)
    assert again["ok"]
    assert next(s for s in again["setup"] if s["step"] == "server-certificate")["status"] == "renewed"
    assert cli("issue-client", "Bob Smith", "--workspace", str(ws)).returncode == 0
    assert cli("revoke", "Bob Smith", "--workspace", str(ws)).returncode == 0
    renewed = cli("renew", "bob smith", "--workspace", str(ws))
    assert renewed.returncode == 0, renewed.stderr
    assert "already revoked (unspecified)" in renewed.stdout and "still valid" not in renewed.stdout


def test_odd_inputs_of_the_second_round_get_plain_answers(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    assert cli("demo", "--workspace", str(ws), "--json").returncode == 0
    zero = cli("renew", "Demo Student", "--days", "0", "--workspace", str(ws))
    assert zero.returncode == 2 and "at least 1 day" in zero.stderr
    users = ws / "site" / "users.json"
    for damage in ("[" * 100_000 + "]" * 100_000, None):
        users.unlink()
        if damage is None:
            users.mkdir()
        else:
            users.write_text(damage)
        out = cli("serve", "--port", "0", "--seconds", "1", "--workspace", str(ws))
        assert out.returncode == 2 and "is damaged" in out.stderr and "Traceback" not in out.stderr, out.stderr
        if damage is None:
            users.rmdir()
