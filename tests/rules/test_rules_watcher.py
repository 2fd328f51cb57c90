"""Hot reload: a good file swaps in, a broken file is logged and the old rule set stays."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from riskstream.features.catalog import FeatureCatalog
from riskstream.rules import RuleError, RuleSetWatcher

GOOD = "version: 1\nrules:\n  - {id: a, when: amount > 100, action: review}\n"


def write(path: Path, text: str, bump: int) -> None:
    path.write_text(text)
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + bump * 1_000_000_000))


def test_good_file_swaps_in(tmp_path: Path, catalog: FeatureCatalog) -> None:
    path = tmp_path / "rules.yaml"
    write(path, GOOD, 0)
    watcher = RuleSetWatcher(path, catalog)
    first = watcher.ruleset
    assert watcher.poll() is None
    write(path, GOOD.replace("100", "200"), 1)
    new = watcher.poll()
    assert new is not None and new.hash != first.hash
    assert watcher.ruleset is new
    assert watcher.poll() is None


def test_broken_file_keeps_the_old_rule_set_and_logs(
    tmp_path: Path, catalog: FeatureCatalog, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "rules.yaml"
    write(path, GOOD, 0)
    watcher = RuleSetWatcher(path, catalog)
    old = watcher.ruleset
    write(path, GOOD.replace("amount", "amout"), 1)
    with caplog.at_level(logging.ERROR, logger="riskstream.rules.watcher"):
        assert watcher.poll() is None
    assert watcher.ruleset is old
    assert "unknown name 'amout'" in caplog.text
    assert watcher.errors == [f"{path}:3:19: rule 'a': unknown name 'amout'"]
    # a broken YAML file, then a vanished file: still no exception, still the old rules
    write(path, "version: 1\nrules: [\n", 2)
    assert watcher.poll() is None
    path.unlink()
    assert watcher.poll() is None
    assert watcher.ruleset is old
    # fixed again: swaps in
    write(path, GOOD.replace("100", "300"), 3)
    assert watcher.poll() is not None
    assert watcher.errors == []


def test_comment_only_change_keeps_the_rule_set(tmp_path: Path, catalog: FeatureCatalog) -> None:
    path = tmp_path / "rules.yaml"
    write(path, GOOD, 0)
    watcher = RuleSetWatcher(path, catalog)
    write(path, "# just a comment\n" + GOOD, 1)
    assert watcher.poll() is None


def test_list_file_changes_trigger_reload(tmp_path: Path, catalog: FeatureCatalog) -> None:
    (tmp_path / "bad.txt").write_text("m1\n")
    path = tmp_path / "rules.yaml"
    write(
        path,
        "version: 1\nlists:\n  bad: {file: bad.txt}\n"
        "rules:\n  - {id: m, when: merchant_id in bad, action: block}\n",
        0,
    )
    watcher = RuleSetWatcher(path, catalog)
    write(tmp_path / "bad.txt", "m1\nm2\n", 1)
    new = watcher.poll()
    assert new is not None and new.lists["bad"].values == ("m1", "m2")


def test_min_interval_and_broken_start(tmp_path: Path, catalog: FeatureCatalog) -> None:
    now = [0.0]
    path = tmp_path / "rules.yaml"
    write(path, GOOD, 0)
    watcher = RuleSetWatcher(path, catalog, min_interval=5.0, clock=lambda: now[0])
    write(path, GOOD.replace("100", "200"), 1)
    now[0] = 1.0
    assert watcher.poll() is None  # too soon to look
    now[0] = 6.0
    assert watcher.poll() is not None
    write(path, "rules: oops", 2)
    with pytest.raises(RuleError):
        RuleSetWatcher(path, catalog)
