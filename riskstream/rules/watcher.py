"""Hot reload: `RuleSetWatcher` polls a rule file (and the list files it reads) between
micro-batches and hands back a new compiled `RuleSet` when the content changed and compiles.

A broken file is logged with its diagnostics and the previous rule set stays in force; no
exception escapes `poll`. The swap is atomic for the caller: it receives a whole new RuleSet
or None, and replaces its reference between two batches.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from riskstream.features.catalog import FeatureSpec
from riskstream.rules.diagnostics import RuleError
from riskstream.rules.limits import RuleLimits
from riskstream.rules.loader import load_ruleset
from riskstream.rules.ruleset import RuleSet

__all__ = ["RuleSetWatcher"]

log = logging.getLogger(__name__)


class RuleSetWatcher:
    """Watch one rule file; `poll()` returns a new RuleSet when it changed and compiles.

    Parameters
    ----------
    path
        The rule file. It is loaded at once; a broken file raises `RuleError` here (an engine
        must not start without valid rules), never from `poll`.
    catalog
        The feature catalog to check against.
    limits
        Rule language limits.
    min_interval
        Seconds between two looks at the files (0: every poll). Files are looked at with
        `stat`; content is read and hashed only when size or modification time changed.
    clock
        Monotonic clock in seconds (passed in for tests).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from riskstream.features.catalog import FeatureCatalog
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "rules.yaml"
    >>> _ = path.write_text("version: 1\\nrules: []\\n")
    >>> watcher = RuleSetWatcher(path, FeatureCatalog.default())
    >>> watcher.poll() is None
    True
    >>> rule = "  - {id: a, when: amount > 1, action: review}"
    >>> _ = path.write_text(f"version: 1\\nrules:\\n{rule}\\n")
    >>> len(watcher.poll())
    1
    """

    def __init__(
        self,
        path: str | Path,
        catalog: Mapping[str, FeatureSpec],
        limits: RuleLimits | None = None,
        min_interval: float = 0.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.path = Path(path)
        self.catalog = catalog
        self.limits = limits
        self.min_interval = min_interval
        self.clock = clock
        self.ruleset: RuleSet = load_ruleset(self.path, catalog, limits=limits)
        self.errors: list[str] = []
        self._last_look = clock()
        self._stats = self._stat_all()
        self._digest = self._content_digest()

    def _files(self) -> list[Path]:
        return [self.path, *(p for p in self.ruleset.sources if p != self.path)]

    def _stat_all(self) -> tuple[tuple[int, int], ...]:
        out = []
        for file in self._files():
            try:
                st = file.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except OSError:
                out.append((-1, -1))
        return tuple(out)

    def _content_digest(self) -> str:
        digest = hashlib.sha256()
        for file in self._files():
            try:
                digest.update(file.read_bytes())
            except OSError:
                digest.update(b"\0missing\0")
            digest.update(b"\0")
        return digest.hexdigest()

    def poll(self) -> RuleSet | None:
        """A new RuleSet if the files changed and compile cleanly (with a different hash);
        None otherwise. Errors are logged and kept in `errors`; nothing is raised."""
        now = self.clock()
        if self.min_interval and now - self._last_look < self.min_interval:
            return None
        self._last_look = now
        try:
            stats = self._stat_all()
            if stats == self._stats:
                return None
            self._stats = stats
            digest = self._content_digest()
            if digest == self._digest:
                return None
            self._digest = digest
            candidate = load_ruleset(self.path, self.catalog, limits=self.limits)
        except RuleError as exc:
            self.errors = [d.headline() for d in exc.diagnostics]
            log.error(
                "rule file %s rejected, keeping rule set %s:\n%s",
                self.path,
                self.ruleset.hash[:12],
                exc,
            )
            return None
        except Exception:  # a watcher must never take the engine down
            log.exception(
                "rule file %s could not be reloaded; keeping the current rules", self.path
            )
            return None
        self.errors = []
        if candidate.hash == self.ruleset.hash:
            self.ruleset = candidate
            self._stats = self._stat_all()
            return None
        log.info(
            "rule file %s reloaded: rule set %s -> %s",
            self.path,
            self.ruleset.hash[:12],
            candidate.hash[:12],
        )
        self.ruleset = candidate
        self._stats = self._stat_all()
        self._digest = self._content_digest()
        return candidate
