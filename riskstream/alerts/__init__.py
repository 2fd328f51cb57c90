"""Alerts, SMS-confirmation tasks and their lifecycle, senders, cooldowns."""
