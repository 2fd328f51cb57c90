"""Alerts, SMS-confirmation tasks and their lifecycle, senders, cooldowns.

Modules: `tasks` (states, transitions, history), `manager` (cooldown, joins, outbox dispatch,
expiry, replies, receipts), `store` and `redis_store` (task stores with an atomic outbox),
`senders` and `http` (gateway interface, webhook and file senders, retries), `router` (alert
records and sinks), `callback` and `signing` (HMAC-signed receipts and replies), `templates`
and `directory` (texts, contact store, merchants), `masking`, `denylist` (card blocks from NO
replies), `embedded` (the run's glue), `cli` (``riskstream sms``), `showcase` (the demo).
See docs/alerts.md.
"""
