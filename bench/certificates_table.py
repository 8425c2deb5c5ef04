"""The Certificates area with 10,000 certificates: registry read, model reset, search and sort times.

Issues 10,000 real client certificates (P-256, signed by a throwaway CA; no bundles,
which would only cost PKCS#12 time) into a registry, then measures on the GUI thread:
``Registry.list()``, the model reset, typing a search string into the proxy filter and
sorting by validity, the way the Certificates area does them.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/certificates_table.py [--count 10000]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QApplication


def timed(label: str, fn: object) -> object:
    start = time.perf_counter()
    result = fn()  # type: ignore[operator]
    print(f"{label:45} {(time.perf_counter() - start) * 1000:8.1f} ms")
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    app = QApplication.instance() or QApplication([])
    from core.workspace import Workspace
    from gui.certificates_model import CertificateModel, Column, make_proxy, prepare_rows

    with tempfile.TemporaryDirectory() as tmp:
        ws = Workspace(Path(tmp) / "ws")
        authority = ws.create_ca(common_name="Bench CA", passphrase="bench passphrase")
        started = time.perf_counter()
        for i in range(args.count):
            cert = authority.issue_client(name=f"Student {i:05d}").certificate
            ws.registry.add(cert, kind="client", cert_path=f"clients/s{i}.crt", bundle_path=f"clients/s{i}.p12")
        print(f"setup: {args.count} certificates issued and recorded in {time.perf_counter() - started:.1f} s")
        records = timed(f"Registry.list() of {args.count + 1} rows", ws.registry.list)
        timed("Registry.list(search='Student 0999')", lambda: ws.registry.list(search="Student 0999"))
        model = CertificateModel()
        proxy = make_proxy(model)
        prepared = timed("rows prepared (prepare_rows, on a worker)", lambda: prepare_rows(records))  # type: ignore[arg-type]
        timed("model reset on the GUI thread (set_rows)", lambda: model.set_rows(prepared))
        timed("proxy filter 'Student 0999'", lambda: proxy.setFilterFixedString("Student 0999"))
        print(f"{'rows after filter':45} {proxy.rowCount():8d}")
        timed("proxy filter cleared", lambda: proxy.setFilterFixedString(""))
        timed("proxy sort by valid-until", lambda: proxy.sort(Column.VALID_UNTIL, Qt.SortOrder.AscendingOrder))
        del app


if __name__ == "__main__":
    main()
    sys.stdout.flush()
    os._exit(0)
