"""Connectors read a shop's order and chat APIs and hand out normalized, frozen records.

Each platform lives in its own package with ``client.py`` (one request attempt, I/O only)
and ``normalize.py`` (pure: platform JSON in, :mod:`connectors.model` records out).
Only the daemon's poller retries.
"""
