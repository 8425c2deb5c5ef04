"""Class rosters: validation by line number, untrusted names, progress, cancel, crashes."""

from __future__ import annotations

import contextlib
import csv
import json
import multiprocessing
import os
import signal
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

import cli
from core.bundles import read_p12
from core.roster import RosterError, issue_roster, parse_roster, spreadsheet_safe
from core.workspace import Workspace, WorkspaceError
from tests.conftest import CA_PASSPHRASE, poll_until


@pytest.fixture
def ws(tmp_path: Path) -> Workspace:
    w = Workspace(tmp_path / "ws")
    w.create_ca(common_name="Roster CA", organization="School", passphrase=CA_PASSPHRASE)
    return w


def _agree(ws: Workspace, out: Path) -> None:
    """Every client row has both files; every file in ``out`` (but the handout) has a row."""
    recorded = set()
    for r in ws.registry.list(kind="client"):
        for stored in (r.cert_path, r.bundle_path):
            assert stored and ws.path_of(stored).is_file(), f"row {r.serial} lost {stored}"
            recorded.add(ws.path_of(stored).resolve())
    assert not ws.registry.pending()
    for f in out.iterdir():
        if f.is_file() and not f.name.startswith("handout"):
            assert f.resolve() in recorded, f"{f} has no registry row"


def _handout(path: Path) -> list[dict[str, str]]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return list(csv.DictReader(fh))


def test_every_problem_is_reported_by_line_number(tmp_path: Path) -> None:
    (tmp_path / "taken.p12").write_bytes(b"x")
    data = (
        "name,email,password\n"
        "Ada Lovelace,ada@school.example,\n"
        "\n"
        "Bob,not-an-email,\n"
        ",nobody@school.example,\n"
        "Cy,,short\n"
        "ada lovelace,,\n"
        "Dee,,=HYPERLINK(\"http://x\")\n"
        "Taken,,\n"
        "\u202eevil,,\n"
    ).encode()
    with pytest.raises(RosterError) as info:
        parse_roster(data, out_dir=tmp_path)
    problems = info.value.problems
    assert [p.split(":")[0] for p in problems] == [
        "line 4", "line 5", "line 6", "line 7", "line 8", "line 9", "line 10"]
    assert "e-mail" in problems[0]
    assert "same file name" in problems[3] and "line 2" in problems[3]
    assert "already exists" in problems[5]


@pytest.mark.parametrize(("data", "message"), [
    (b"\xff\xfename\n", "line 1: not UTF-8"),
    (b"name\nA\x00da\n", "line 2"),
    (b"name,email\n", "no students"),
    (b"x" * (1024 * 1024 + 1), "larger than"),
    (b"email,password\nx@school.example,long-enough-pw\n", "line 1: this header has no 'name' column"),
    (b'name\n"Ada Lovelace,\nAlan Turing\n', "not valid CSV"),  # an unclosed quote, not a name eating a line
    (b"name\nAda;=HYPERLINK(1)\n", "line 2: a name must not contain ';'"),
    (b"name,email,password\nAda,,secret;=1+1\n", "line 2: a password must not contain ';'"),
])
def test_bad_files_are_refused_with_a_reason(data: bytes, message: str) -> None:
    with pytest.raises(RosterError, match=message):
        parse_roster(data)


@pytest.mark.parametrize("where", ["ca", "secrets", "server", "site", "."])
def test_bundles_never_go_into_the_workspace_s_own_folders(ws: Workspace, where: str) -> None:
    """A student called "Root" in --out WORKSPACE/ca would write ca/root.crt, taken as the root CA."""
    out = ws.root / where
    with pytest.raises(RosterError, match="workspace"):
        parse_roster(b"name\nRoot\nChain\n", out_dir=out, workspace=ws)
    authority = ws.load_ca(CA_PASSPHRASE)
    with pytest.raises(RosterError, match="workspace"):
        issue_roster(ws, authority, parse_roster(b"name\nRoot\n"), out_dir=out / "sub" if where != "." else out,
                     workers=1)
    assert not (ws.root / "ca" / "root.crt").exists()


def test_header_is_optional_and_columns_may_be_reordered() -> None:
    rows = parse_roster("\ufeffEmail,Name\nada@school.example,Ada\n".encode())
    assert [(r.line, r.name, r.email) for r in rows] == [(2, "Ada", "ada@school.example")]
    rows = parse_roster(b"Ada,ada@school.example,long-enough-pw\n")
    assert (rows[0].name, rows[0].password) == ("Ada", "long-enough-pw")


@pytest.mark.parametrize("cell", ["=1+1", "+1", "-1", "@SUM(A1)", "\tx", "\rx"])
def test_formula_cells_are_neutralised(cell: str) -> None:
    assert spreadsheet_safe(cell) == "'" + cell
    assert spreadsheet_safe("Ada") == "Ada"


def test_roster_issues_bundles_and_a_handout(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = parse_roster(b"name,email,password\n"
                        b"Ada Lovelace,ada@school.example,\n"
                        b"=cmd|' /C calc'!A0,,given-password-1\n"
                        b"../../etc/passwd,,\n", out_dir=out)
    authority = ws.load_ca(CA_PASSPHRASE)
    seen: list[tuple[int, int, str]] = []
    result = issue_roster(ws, authority, rows, out_dir=out, progress=lambda d, t, n: seen.append((d, t, n)),
                          workers=2)
    assert result.complete
    assert [s[:2] for s in seen] == [(1, 3), (2, 3), (3, 3)]
    assert sorted(p.name for p in out.iterdir()) == [
        "ada-lovelace.crt", "ada-lovelace.p12", "cmd-c-calc-a0.crt", "cmd-c-calc-a0.p12",
        "etc-passwd.crt", "etc-passwd.p12", "handout.csv"]
    assert stat.S_IMODE(result.handout.stat().st_mode) == 0o600  # type: ignore[union-attr]
    handout = _handout(out / "handout.csv")
    assert [h["file"] for h in handout] == ["ada-lovelace.p12", "cmd-c-calc-a0.p12", "etc-passwd.p12"]
    assert handout[1]["name"] == "'=cmd|' /C calc'!A0"
    assert handout[1]["password"] == "given-password-1"
    for h in handout:
        bundle = read_p12(out / h["file"], h["password"])
        assert bundle.ca_certificates == [authority.certificate]
    assert read_p12(out / "ada-lovelace.p12", handout[0]["password"]).friendly_name == "Ada Lovelace"
    _agree(ws, out)
    assert len(ws.registry.list(kind="client")) == 3


def test_cancel_keeps_only_complete_bundles(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = parse_roster("".join(f"Student {i}\n" for i in range(12)).encode())
    cancel = threading.Event()

    def progress(done: int, _total: int, _name: str) -> None:
        if done == 2:
            cancel.set()

    result = issue_roster(ws, ws.load_ca(CA_PASSPHRASE), rows, out_dir=out, progress=progress, cancel=cancel,
                          workers=2)
    assert result.cancelled and len(result.issued) == 2
    assert len(_handout(out / "handout.csv")) == 2
    assert len(list(out.glob("*.p12"))) == 2
    _agree(ws, out)


def test_exception_inside_the_batch_leaves_files_and_registry_agreeing(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = parse_roster("".join(f"Student {i}\n" for i in range(6)).encode())

    def progress(done: int, _total: int, _name: str) -> None:
        if done == 3:
            raise RuntimeError("the GUI went away")

    with pytest.raises(RuntimeError):
        issue_roster(ws, ws.load_ca(CA_PASSPHRASE), rows, out_dir=out, progress=progress, workers=2)
    assert len(list(out.glob("*.p12"))) == 3
    assert len(_handout(out / "handout.csv")) == 3  # the passwords of what exists are not lost
    _agree(ws, out)


def test_killed_worker_is_reported_and_leaves_no_half_bundle(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    rows = parse_roster("".join(f"Student {i}\n" for i in range(40)).encode())

    def progress(done: int, _total: int, _name: str) -> None:
        if done == 1:
            for child in multiprocessing.active_children():
                os.kill(child.pid, signal.SIGKILL)  # type: ignore[arg-type]

    with pytest.raises(WorkspaceError, match="worker process stopped"):
        issue_roster(ws, ws.load_ca(CA_PASSPHRASE), rows, out_dir=out, progress=progress, workers=2)
    issued = len(list(out.glob("*.p12")))
    assert 1 <= issued < 40
    assert len(_handout(out / "handout.csv")) == issued
    _agree(ws, out)


def test_second_batch_does_not_overwrite_the_first_handout(ws: Workspace, tmp_path: Path) -> None:
    out = tmp_path / "out"
    authority = ws.load_ca(CA_PASSPHRASE)
    issue_roster(ws, authority, parse_roster(b"Ada\n", out_dir=out), out_dir=out, workers=1)
    with pytest.raises(RosterError, match="already exists"):
        parse_roster(b"Ada\n", out_dir=out)
    issue_roster(ws, authority, parse_roster(b"Bob\n", out_dir=out), out_dir=out, workers=1)
    assert [h["name"] for h in _handout(out / "handout.csv")] == ["Ada"]
    assert [h["name"] for h in _handout(out / "handout-2.csv")] == ["Bob"]


ROOT = Path(__file__).resolve().parents[2]


def _children(pid: int) -> dict[int, str]:
    """Processes whose parent is ``pid``: pid -> start time (to tell a reused pid apart)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == pid:
                    found[int(entry.name)] = fields[19]
    return found


def _alive(pid: int, started: str) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return False
    return fields[0] != "Z" and fields[19] == started


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_kill_9_mid_batch_keeps_every_password_and_ends_the_workers(ws: Workspace, tmp_path: Path) -> None:
    out, roster = tmp_path / "out", tmp_path / "roster.csv"
    roster.write_text("".join(f"Student {i}\n" for i in range(40)))
    env = {k: v for k, v in os.environ.items() if not k.startswith("MTLSLAB_")}
    env["MTLSLAB_CA_PASSPHRASE"] = CA_PASSPHRASE
    # RSA-4096 keys take a while each, so the batch is surely still running when it is killed.
    proc = subprocess.Popen([sys.executable, str(ROOT / "main.py"), "roster", str(roster), "--out", str(out),
                             "--key-type", "rsa-4096", "--workers", "2", "--workspace", str(ws.root)],
                            cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    try:
        handout = out / "handout.csv"
        # Two lines: the second is written only after the first bundle is recorded.
        def two_lines() -> bool:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            return handout.is_file() and len(_handout(handout)) >= 2

        poll_until(two_lines, timeout=120, what="a bundle to finish")
        workers = _children(proc.pid)
        assert workers, "the batch runs in worker processes"
        proc.kill()
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=30)
        if proc.stderr:
            proc.stderr.close()
    poll_until(lambda: not any(_alive(pid, started) for pid, started in workers.items()), timeout=30,
               what=f"the worker processes {sorted(workers)} to end with the batch")

    listed = subprocess.run([sys.executable, str(ROOT / "main.py"), "list", "--json", "--workspace", str(ws.root)],
                            cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120)
    clients = [r for r in json.loads(listed.stdout) if r["kind"] == "client"]
    assert 1 <= len(clients) < 40  # killed mid-batch
    passwords = {h["file"]: h["password"] for h in _handout(out / "handout.csv")}
    assert stat.S_IMODE((out / "handout.csv").stat().st_mode) == 0o600
    for record in clients:
        bundle = Path(record["bundle"])
        assert bundle.name in passwords, f"{record['name']} is issued but not in the handout"
        assert read_p12(bundle, passwords[bundle.name]).certificate.serial_number == int(record["serial"], 16)


def test_an_existing_folder_keeps_its_mode_a_new_one_is_owner_only(ws: Workspace, tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    os.chmod(shared, 0o1777)  # noqa: S103 (a shared classroom folder, as found)
    authority = ws.load_ca(CA_PASSPHRASE)
    issue_roster(ws, authority, parse_roster(b"Ada\n", out_dir=shared), out_dir=shared, workers=1)
    assert stat.S_IMODE(shared.stat().st_mode) == 0o1777
    new = tmp_path / "new"
    issue_roster(ws, authority, parse_roster(b"Bob\n", out_dir=new), out_dir=new, workers=1)
    assert stat.S_IMODE(new.stat().st_mode) == 0o700


def test_a_name_with_a_valid_certificate_is_refused_by_line(ws: Workspace, tmp_path: Path) -> None:
    authority = ws.load_ca(CA_PASSPHRASE)
    ws.issue_client_bundle(authority, name="Ada Lovelace", password="a-bundle-password")
    with pytest.raises(RosterError, match=r"line 3: 'Ada Lovelace' already has a valid certificate"):
        parse_roster(b"name\nBob\nAda Lovelace\n", out_dir=tmp_path / "out", workspace=ws)
    rows = parse_roster(b"name\nBob\nAda Lovelace\n", out_dir=tmp_path / "out")  # without the registry check
    with pytest.raises(RosterError, match="line 3"):
        issue_roster(ws, authority, rows, out_dir=tmp_path / "out", workers=1)
    assert not (tmp_path / "out").exists()
    ws.revoke(authority, "Ada Lovelace")
    assert [r.name for r in parse_roster(b"Ada Lovelace\n", out_dir=tmp_path / "out", workspace=ws)] == [
        "Ada Lovelace"]


def test_bad_days_or_workers_create_nothing(ws: Workspace, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv(cli.ENV_CA, CA_PASSPHRASE)
    roster = tmp_path / "roster.csv"
    roster.write_text("Ada\n")
    out = tmp_path / "out"
    for extra, message in ((["--days", "0"], "at least 1 day"), (["--days", "-5"], "at least 1 day"),
                           (["--workers", "0"], "--workers 0"), (["--workers", "100000"], "per CPU core")):
        assert cli.main(["roster", str(roster), "--out", str(out), "--workspace", str(ws.root), *extra]) == 2
        assert message in capsys.readouterr().err
        assert not out.exists()
    with pytest.raises(ValueError, match="at least 1 day"):
        issue_roster(ws, ws.load_ca(CA_PASSPHRASE), parse_roster(b"Ada\n"), out_dir=out, valid_days=0)
    assert not out.exists()


def test_an_interrupted_batch_is_finished_with_the_same_roster(ws: Workspace, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    roster = tmp_path / "class.csv"
    roster.write_text("name\nAda Lovelace\nAlan Turing\nGrace Hopper\n")
    out = tmp_path / "class"
    authority = ws.load_ca(CA_PASSPHRASE)
    issue_roster(ws, authority, parse_roster(b"name\nAda Lovelace\n"), out_dir=out, workers=1)  # "interrupted"
    pf = tmp_path / "pass"
    pf.write_text(CA_PASSPHRASE + "\n")
    common = ["--out", str(out), "--workspace", str(ws.root), "--passphrase-file", str(pf), "--workers", "1"]
    assert cli.main(["roster", str(roster), *common]) == 2  # without the option: Ada is a problem
    assert "already has a valid certificate" in capsys.readouterr().err
    assert cli.main(["roster", str(roster), *common, "--skip-issued"]) == 0
    captured = capsys.readouterr()
    assert "Skipping 1 student who already has a valid certificate: Ada Lovelace" in captured.err
    assert sorted(p.name for p in out.glob("*.p12")) == ["ada-lovelace.p12", "alan-turing.p12", "grace-hopper.p12"]
    assert cli.main(["roster", str(roster), *common, "--skip-issued"]) == 0
    assert "Nothing to issue" in capsys.readouterr().out
