"""shopwatch's own notices to the team lead: Alertmanager pushes and direct webhooks.

The composition root builds the listener with
:func:`daemon.alerts.listener.build_alert_listener` and passes it to the evaluators as a
:class:`daemon.watch.events.EvaluationListener`; it awaits ``listener.aclose()`` on shutdown,
after the scheduler has stopped.
"""
