"""The transaction simulator: a synthetic bank with habits, fraud scenarios and delayed labels.

`simulate` writes a run to a directory, `generate` returns its columns in memory. The output
format, the habits and the scenarios are documented in ``riskstream/simulate/README.md``.
"""

from riskstream.simulate.columns import Transactions
from riskstream.simulate.core import FILES, Simulation, generate, simulate
from riskstream.simulate.manifest import Manifest
from riskstream.simulate.scenarios import SCENARIOS

__all__ = ["FILES", "SCENARIOS", "Manifest", "Simulation", "Transactions", "generate", "simulate"]
