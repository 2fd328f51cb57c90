"""Decision codes shared by every stage: the policy writes them, sinks and reports read them.

Codes are ordered by strength, so "the strongest action wins" is ``np.maximum``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ALLOW", "BLOCK", "CHALLENGE", "DECISION_CODES", "DECISION_NAMES", "REVIEW"]

ALLOW: int = 0
REVIEW: int = 1
CHALLENGE: int = 2
BLOCK: int = 3

DECISION_NAMES: tuple[str, ...] = ("allow", "review", "challenge", "block")
DECISION_CODES: dict[str, int] = {name: code for code, name in enumerate(DECISION_NAMES)}
DECISION_DTYPE = np.int8
