"""The exception hierarchy: one base class, one subclass per area, so callers catch one thing."""

__all__ = [
    "AlertError",
    "ConfigError",
    "InputError",
    "ModelError",
    "OutputError",
    "ReplayError",
    "RiskstreamError",
    "RuleError",
    "StoreError",
]


class RiskstreamError(Exception):
    """Base class of every error riskstream raises on purpose."""


class ConfigError(RiskstreamError):
    """A configuration file or option is missing, unreadable or invalid."""


class InputError(RiskstreamError):
    """An input source (file, stream) cannot be read at all (not: a bad record in it)."""


class StoreError(RiskstreamError):
    """A profile store (memory, Redis, Redis Cluster) failed; the batch was not applied."""


class RuleError(RiskstreamError):
    """A rule file or expression is invalid; carries diagnostics with file, line and column."""


class OutputError(RiskstreamError):
    """An output (decisions, alerts, dead letters) could not be written."""


class ModelError(RiskstreamError):
    """A model or a model snapshot cannot be built, loaded or used."""


class AlertError(RiskstreamError):
    """An alert, SMS task or sender operation is invalid."""


class ReplayError(RiskstreamError):
    """A replay, backtest, comparison or audit cannot run."""
