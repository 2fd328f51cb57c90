"""riskstream: a real-time transaction risk engine.

Every transaction is scored against its customer's own habits, the fraud team's rules and an
online anomaly model; the answer is allow, review, challenge (SMS) or block. See DESIGN.md.
"""

__version__ = "0.1.0"
__all__ = ["__version__"]
