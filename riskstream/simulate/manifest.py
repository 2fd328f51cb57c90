"""The run manifest: parameters, seed, counts and summary figures of a simulation, written as
``manifest.json`` beside the data so an evaluator knows what it is looking at."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

__all__ = ["FORMAT_VERSION", "Manifest"]

#: Version of the files' layout; bumped when a field changes meaning.
FORMAT_VERSION = 1


@dataclass(frozen=True)
class Manifest:
    """What a simulation run produced.

    Parameters
    ----------
    format_version
        `FORMAT_VERSION` of the files.
    generator
        Package and version that wrote them (``riskstream.simulate x.y.z``).
    parameters
        customers, days, seed, start, fraud_rate: the run is a pure function of these.
    start
        First instant of the period (ISO 8601 UTC).
    end
        First instant after the period.
    counts
        Totals and breakdowns: transactions, labels, entities, by type, channel, currency and
        fraud type, fraud incidents by type.
    fraud_rate
        Realised share of fraudulent transactions.
    big_depositors
        ``customer_id`` of the customers whose deposits exceed 20,000 EUR in every calendar month
        the run touches (the targets of "over 20,000 in each of three consecutive months" when
        the run covers three calendar months).
    label_delay_s
        Quantiles (p10, p50, p90) of ``label_time - timestamp`` in seconds, per label source.
    eur_to
        The fixed synthetic exchange rates used: units of each currency per EUR.
    files
        File names written, relative to the output directory.

    """

    format_version: int
    generator: str
    parameters: dict[str, Any]
    start: str
    end: str
    counts: dict[str, Any]
    fraud_rate: float
    big_depositors: list[str]
    label_delay_s: dict[str, dict[str, float]]
    eur_to: dict[str, float]
    files: dict[str, str]

    def as_dict(self) -> dict[str, Any]:
        """The manifest as plain JSON-able data."""
        return asdict(self)
