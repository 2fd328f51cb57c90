"""report.html opens in headless Chromium: plots present, no console errors, no network.

Chromium comes from Debian (`scripts/install_chromium.sh`, run by `make test` through
`scripts/services.sh deps`). Without it this test fails with a message saying so; a Chromium
that hangs is killed after 90 s.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from riskstream.replay.cli import replay

_FLAGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--enable-logging=stderr", "--v=0",
]  # fmt: skip


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        found = shutil.which(name)
        if found:
            return found
    pytest.fail("Chromium is not installed: run `bash scripts/install_chromium.sh` as root")


def _render(page: Path, profile: Path) -> tuple[str, list[str]]:
    """(DOM after load, console messages) of a page in headless Chromium."""
    try:
        done = subprocess.run(
            [_chromium(), *_FLAGS, f"--user-data-dir={profile}", "--dump-dom", page.as_uri()],
            capture_output=True,
            text=True,
            timeout=90,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("headless Chromium did not finish rendering within 90 s")
    assert done.returncode == 0, done.stderr[-2000:]
    console = [line for line in done.stderr.splitlines() if ":CONSOLE" in line]
    return done.stdout, console


@pytest.mark.slow
def test_the_report_renders_with_its_plots(case: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(
        replay,
        ["--input", str(case["tx"]), "--labels", str(case["labels"]), "--rules",
         str(case["rules"]), "--config", str(case["config"]), "--out", str(out), "--report",
         "--quiet"],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = out / "report.html"
    text = page.read_text()
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", text)  # self-contained
    dom, console = _render(page, tmp_path / "profile")
    assert console == []
    for figure in ("pr_curve", "score_distribution", "daily_alerts"):
        block = re.search(rf"id=\"fig-{figure}\".*?</svg>", dom, re.S)
        assert block and "<path" in block.group(0), figure  # the plot is drawn, not empty
    assert "tiny_fp" in dom and "low_precision" in dom and "no_hits" in dom
    # the console check itself works: a page with an error is caught
    bad = tmp_path / "bad.html"
    bad.write_text("<html><body><script>undefinedFunction()</script></body></html>")
    assert any("undefinedFunction" in line for line in _render(bad, tmp_path / "p2")[1])
