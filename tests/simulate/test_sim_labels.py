"""Labels: every fraud, some genuine confirmations, never before the transaction, late."""

from __future__ import annotations

import numpy as np

from riskstream.simulate import SCENARIOS
from riskstream.simulate._util import DAY_MS, MINUTE_MS
from riskstream.simulate.labels import CHARGEBACK, INVESTIGATION, SMS


def test_labels_file(written) -> None:
    by_id = {t["tx_id"]: t for t in written.tx}
    names = {s.name for s in SCENARIOS}
    times = [label["label_time"] for label in written.labels]
    assert times == sorted(times)
    for label in written.labels:
        assert set(label) == {"tx_id", "is_fraud", "fraud_type", "label_time"}
        assert label["label_time"] >= by_id[label["tx_id"]]["timestamp"]
        if label["is_fraud"]:
            assert label["fraud_type"] in names
        else:
            assert label["fraud_type"] is None
    assert len({label["tx_id"] for label in written.labels}) == len(written.labels)


def test_every_fraud_labelled_and_unlabelled_is_genuine(sim) -> None:
    t, lab = sim.transactions, sim.labels
    fraud = np.flatnonzero(t.fraud > 0)
    labelled_fraud = np.sort(lab.tx[lab.fraud > 0])
    assert np.array_equal(fraud, labelled_fraud)
    assert np.array_equal(t.fraud[lab.tx], lab.fraud)
    genuine_labels = lab.tx[lab.fraud == 0]
    assert genuine_labels.shape[0] > 0
    assert (t.fraud[genuine_labels] == 0).all()
    # a sample: between 0.2% and 5% of genuine transactions are confirmed
    assert 0.002 < genuine_labels.shape[0] / (t.fraud == 0).sum() < 0.05


def test_delay_distributions(sim) -> None:
    t, lab = sim.transactions, sim.labels
    delay = lab.label_time - t.ts[lab.tx]
    assert (delay >= 0).all()
    sms, cb, inv = (delay[lab.source == s] for s in (SMS, CHARGEBACK, INVESTIGATION))
    assert (sms <= 15 * MINUTE_MS).all() and np.median(sms) < 5 * MINUTE_MS
    assert (cb >= 1 * DAY_MS).all() and (cb <= 61 * DAY_MS).all()
    assert 4 * DAY_MS < np.median(cb) < 20 * DAY_MS
    assert (inv >= 3 * DAY_MS).all()
    fraud = lab.fraud > 0
    sms_fraud = ((lab.source == SMS) & fraud).sum() / fraud.sum()
    assert 0.1 < sms_fraud < 0.5  # a share by SMS within minutes; most by chargeback later
    assert (lab.source[~fraud] == SMS).all()
