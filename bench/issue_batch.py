"""Benchmark: issuing client bundles (key + certificate + .p12) with mTLS Lab, easy-rsa and mkcert.

    .venv/bin/python bench/issue_batch.py [--count 200] [--workers N]

For each tool, ``--count`` RSA-2048 bundles, each a new key, a certificate signed by
the tool's CA and a password-protected PKCS#12 export:

* mTLS Lab: ``core.roster.issue_roster`` (modern profile: AES-256, PBKDF2 10,000
  rounds, SHA-256 MAC of 10,000 rounds; worker processes on every core, registry rows, atomic files);
  then the same with ECDSA P-256 keys, and RSA-2048 in the compatible profile (3DES,
  2,048 rounds: the encryption mkcert's bundles use).
* easy-rsa: ``easyrsa build-client-full NAME nopass`` then ``easyrsa export-p12 NAME``,
  one bundle after the other (its index.txt is not safe for parallel runs).
* mkcert: ``mkcert -client -pkcs12 -p12-file NAME.p12 NAME``, one after the other.

Prints the per-bundle wall time of each and the ratios. Figures go in
docs/benchmarks.md ("Issuing bundles").
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.bundles import BundleProfile
from core.keys import KeyType
from core.roster import issue_roster, parse_roster
from core.workspace import Workspace

EASYRSA = "/usr/share/easy-rsa/easyrsa"
PASSPHRASE = "bench-passphrase"


def bench_mtlslab(root: Path, count: int, key_type: KeyType, workers: int | None,
                  profile: BundleProfile = BundleProfile.MODERN) -> float:
    ws = Workspace(root / f"ws-{key_type.value}-{profile.value}")
    authority = ws.create_ca(common_name="Bench CA", passphrase=PASSPHRASE, key_type=KeyType.EC_P256)
    rows = parse_roster("".join(f"Student {i}\n" for i in range(count)).encode())
    start = time.perf_counter()
    result = issue_roster(ws, authority, rows, out_dir=root / f"out-{key_type.value}-{profile.value}",
                          key_type=key_type, profile=profile, workers=workers)
    elapsed = time.perf_counter() - start
    assert result.complete and len(result.issued) == count
    return elapsed


def _run(cmd: list[str], env: dict[str, str], cwd: Path) -> None:
    out = subprocess.run(cmd, env=env, cwd=cwd, capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{out.stdout}\n{out.stderr}")


def bench_easyrsa(root: Path, count: int) -> float:
    pki = root / "easyrsa-pki"
    pw = root / "easyrsa-p12-pass"
    # export-p12 reads the export password from EASYRSA_PASSOUT
    pw.write_text("bench-bundle-pass\nbench-bundle-pass\n")
    base = dict(os.environ, EASYRSA_BATCH="1", EASYRSA_PKI=str(pki), EASYRSA_KEY_SIZE="2048")
    _run([EASYRSA, "init-pki"], base, root)
    _run([EASYRSA, "build-ca", "nopass"], dict(base, EASYRSA_REQ_CN="Bench easy-rsa CA"), root)
    export_env = dict(base, EASYRSA_PASSOUT=f"file:{pw}")
    start = time.perf_counter()
    for i in range(count):
        name = f"student-{i}"
        _run([EASYRSA, "build-client-full", name, "nopass"], base, root)
        _run([EASYRSA, "export-p12", name], export_env, root)
    elapsed = time.perf_counter() - start
    assert len(list((pki / "private").glob("student-*.p12"))) == count
    return elapsed


def bench_mkcert(root: Path, count: int) -> float:
    caroot = root / "mkcert-ca"
    caroot.mkdir()
    out = root / "mkcert-out"
    out.mkdir()
    env = dict(os.environ, CAROOT=str(caroot), TRUST_STORES="none")
    _run(["mkcert", "-CAROOT"], env, out)
    _run(["mkcert", "-client", "-pkcs12", "-p12-file", str(out / "warmup.p12"), "warmup"], env, out)  # makes the CA
    start = time.perf_counter()
    for i in range(count):
        _run(["mkcert", "-client", "-pkcs12", "-p12-file", str(out / f"student-{i}.p12"), f"student-{i}"], env, out)
    elapsed = time.perf_counter() - start
    assert len(list(out.glob("student-*.p12"))) == count
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--workers", type=int, default=None, help="mTLS Lab worker processes (default: all cores)")
    parser.add_argument("--skip-others", action="store_true", help="only mTLS Lab")
    args = parser.parse_args()
    n = args.count
    print(f"{n} bundles each; {os.cpu_count()} CPU cores; Python {platform.python_version()}; {platform.machine()}")
    with tempfile.TemporaryDirectory(prefix="mtlslab-bench-") as tmp:
        root = Path(tmp)
        ours = bench_mtlslab(root, n, KeyType.RSA_2048, args.workers)
        print(f"mTLS Lab RSA-2048 modern : {ours / n * 1000:8.1f} ms/bundle  ({ours:.1f} s)")
        p256 = bench_mtlslab(root, n, KeyType.EC_P256, args.workers)
        print(f"mTLS Lab P-256 modern    : {p256 / n * 1000:8.1f} ms/bundle  ({p256:.1f} s)")
        # Like for like with mkcert, whose bundles are legacy 3DES/RC2 with 2,048 rounds.
        compat = bench_mtlslab(root, n, KeyType.RSA_2048, args.workers, BundleProfile.COMPATIBLE)
        print(f"mTLS Lab RSA-2048 compat.: {compat / n * 1000:8.1f} ms/bundle  ({compat:.1f} s)")
        if args.skip_others:
            return 0
        missing: list[str] = []
        if shutil.which("mkcert"):
            mk = bench_mkcert(root, n)
            print(f"mkcert RSA-2048          : {mk / n * 1000:8.1f} ms/bundle  ({mk:.1f} s)"
                  f"  -> mTLS Lab is {mk / ours:.1f}x faster")
        else:
            print("mkcert: not installed (Debian package mkcert); the comparison is incomplete")
            missing.append("mkcert")
        if Path(EASYRSA).exists():
            er = bench_easyrsa(root, n)
            print(f"easy-rsa RSA-2048        : {er / n * 1000:8.1f} ms/bundle  ({er:.1f} s)"
                  f"  -> mTLS Lab is {er / ours:.1f}x faster")
        else:
            print("easy-rsa: not installed (Debian package easy-rsa); the comparison is incomplete")
            missing.append("easy-rsa")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
