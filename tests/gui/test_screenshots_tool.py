"""tools/screenshots.py still drives every area and wizard page, and makes every picture the README shows."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_screenshot_script_makes_every_picture_the_readme_links(tmp_path: Path) -> None:
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "HOME": str(tmp_path / "home")}
    out = subprocess.run([sys.executable, str(ROOT / "tools" / "screenshots.py"), "--out", str(tmp_path / "shots")],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
    linked = set(re.findall(r"docs/screenshots/([\w-]+\.png)", (ROOT / "README.md").read_text(encoding="utf-8")))
    linked.discard("site-user-page.png")  # made by the browser test (see the script's docstring)
    made = {p.name for p in (tmp_path / "shots").glob("*.png")}
    assert linked <= made, sorted(linked - made)
    assert all((tmp_path / "shots" / name).stat().st_size > 5000 for name in made)  # real pictures, not blanks
    assert not (tmp_path / "home").exists() or not any((tmp_path / "home").rglob("mTLS Lab*"))  # no settings leak
