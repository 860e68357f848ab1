"""The README's screenshots (docs/images/, taken by ``make screenshots``: tools/screenshots.py):
up to date with the chart code, real pictures, and the command itself run into tmp_path in
a real JupyterLab and Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from PIL import Image

from tools import screenshots
from tools.screenshots import BRACKET_PNG, LIVE_PNG, MANIFEST, OUT, ROOT, SOURCES, stale

RERUN = "run `make screenshots` and commit docs/images/"


def assert_a_real_picture(path: Path, width: int, height: int) -> None:
    """``path`` is a PNG of ``width`` x ``height`` with a chart's many colours, not a blank
    page: at least 200 distinct colours, and no single one covering nearly all of it."""
    with Image.open(path) as image:
        assert image.format == "PNG" and image.size == (width, height), (path, image.size)
        colours = image.convert("RGB").getcolors(maxcolors=width * height) or []
    assert len(colours) >= 200, f"{path}: only {len(colours)} colours"
    assert max(colours)[0] < 0.9 * width * height, f"{path}: mostly one colour"


def test_the_screenshots_match_the_chart_sources() -> None:
    problems = stale()
    assert not problems, f"the README's screenshots are out of date ({'; '.join(problems)}): " \
                         f"{RERUN}"


def test_the_committed_screenshots_are_real_pictures_shown_in_the_readme() -> None:
    manifest = json.loads((OUT / MANIFEST).read_text(encoding="utf-8"))
    assert sorted(manifest["images"]) == sorted([LIVE_PNG, BRACKET_PNG])
    for name, facts in manifest["images"].items():
        assert_a_real_picture(OUT / name, facts["width"], facts["height"])
        assert facts["width"] >= 1000 and facts["height"] >= 500, (name, facts)
    assert manifest["images"][LIVE_PNG]["drawn"] == "240 bars, 0 errors"
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in (LIVE_PNG, BRACKET_PNG):
        assert f"](docs/images/{name})" in readme, f"README.md does not show {name}"


def test_the_makefile_target_depends_on_the_same_sources() -> None:
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    line = re.search(r"^SCREENSHOT_SOURCES := (.*)$", makefile, re.M)
    assert line, "the Makefile has no SCREENSHOT_SOURCES"
    listed = re.sub(r"\$\(wildcard ([^)]*)\)", r"\1", line.group(1)).split()
    assert sorted(listed) == sorted(SOURCES)
    assert re.search(r"^screenshots: \$\(SCREENSHOTS\)$", makefile, re.M)
    assert re.search(r"^\$\(SCREENSHOTS\): \$\(SCREENSHOT_SOURCES\)", makefile, re.M)


def test_a_changed_added_or_removed_source_makes_them_stale(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    for path in screenshots.source_files():
        copy = root / path.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(path, copy)
    out = tmp_path / "images"
    shutil.copytree(OUT, out)
    assert stale(out, root) == []
    (root / "evlab" / "plot" / "_figure.py").write_text("# changed\n")
    (root / "evlab" / "plot" / "panels.py").write_text("# new\n")
    (root / "evlab" / "examples.py").unlink()
    (out / LIVE_PNG).write_bytes(b"not it")
    assert stale(out, root) == ["evlab/plot/_figure.py changed", "evlab/plot/panels.py is new",
                                "evlab/examples.py is gone",
                                f"{LIVE_PNG} is not the one the manifest records"]
    check = subprocess.run([sys.executable, "-m", "tools.screenshots", "--check", "--out",
                            str(out)], cwd=ROOT, capture_output=True, text=True, timeout=60)
    # --check compares with this repository's sources: only the altered PNG differs
    assert check.returncode == 1
    assert check.stdout == f"{LIVE_PNG} is not the one the manifest records: run " \
                           "`make screenshots`\n"


def test_the_command_takes_both_screenshots_in_the_browser(tmp_path: Path) -> None:
    """The whole command, into tmp_path: JupyterLab, the live feed, Chromium (about 40 s)."""
    done = subprocess.run([sys.executable, "-m", "tools.screenshots", "--out", str(tmp_path)],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    manifest = json.loads((tmp_path / MANIFEST).read_text(encoding="utf-8"))
    assert manifest["sources"] == screenshots.source_digests()
    committed = json.loads((OUT / MANIFEST).read_text(encoding="utf-8"))["images"]
    for name, facts in manifest["images"].items():
        # the same pictures' sizes as the committed ones (same scene, same window)
        assert (facts["width"], facts["height"]) == \
            (committed[name]["width"], committed[name]["height"]), (name, RERUN)
        assert_a_real_picture(tmp_path / name, facts["width"], facts["height"])
    assert manifest["images"][LIVE_PNG]["drawn"] == "240 bars, 0 errors"
    assert manifest["images"][BRACKET_PNG]["drawn"] == "500 bars"
    assert stale(tmp_path) == []
