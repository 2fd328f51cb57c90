"""Fraud scenarios injected into the simulated stream, one module each.

A scenario is a function ``(ctx, incidents, rng, **params) -> Transactions`` whose rows carry
its code in ``fraud`` and an incident index in ``incident``. `SCENARIOS` lists them in the order
they run, with the share of the fraud budget (in transactions) each gets and the mean number of
transactions an incident produces, used to turn a fraud rate into numbers of incidents.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from riskstream.simulate.columns import Transactions
from riskstream.simulate.scenarios._common import FraudContext
from riskstream.simulate.scenarios.account_takeover import account_takeover
from riskstream.simulate.scenarios.card_testing import card_testing
from riskstream.simulate.scenarios.compromised_merchant import compromised_merchant
from riskstream.simulate.scenarios.impossible_travel import impossible_travel
from riskstream.simulate.scenarios.money_mule import money_mule
from riskstream.simulate.scenarios.spending_spree import spending_spree

__all__ = [
    "SCENARIOS",
    "FraudContext",
    "Scenario",
    "account_takeover",
    "card_testing",
    "compromised_merchant",
    "impossible_travel",
    "money_mule",
    "spending_spree",
]


@dataclass(frozen=True)
class Scenario:
    """A registered fraud scenario.

    Parameters
    ----------
    name
        The ``fraud_type`` written in labels.
    fn
        The generating function.
    share
        Share of the fraud budget (transactions) given to this scenario.
    tx_per_incident
        Mean number of transactions one incident produces.

    """

    name: str
    fn: Callable[..., Transactions]
    share: float
    tx_per_incident: float

    def incidents(self, fraud_budget: float) -> int:
        """Number of incidents for a budget of fraudulent transactions (at least one).

        >>> SCENARIOS[0].incidents(1000.0)
        16
        """
        return max(1, round(fraud_budget * self.share / self.tx_per_incident))


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("card_testing", card_testing, 0.25, 15.6),
    Scenario("account_takeover", account_takeover, 0.10, 1.85),
    Scenario("impossible_travel", impossible_travel, 0.12, 2.0),
    Scenario("compromised_merchant", compromised_merchant, 0.20, 30.0),
    Scenario("spending_spree", spending_spree, 0.20, 8.0),
    Scenario("money_mule", money_mule, 0.13, 8.5),
)


def inject(ctx: FraudContext, fraud_budget: float, rngs: list[np.random.Generator]) -> Transactions:
    """Run every scenario with its share of ``fraud_budget``, each with its own generator."""
    parts = [
        s.fn(ctx, s.incidents(fraud_budget), rng) for s, rng in zip(SCENARIOS, rngs, strict=True)
    ]
    return Transactions.concat(parts)
