"""Alerting: rules over enriched articles -> Alert records on the ``alerts`` topic.

``rules`` (YAML rules, per-article evaluation) and ``engine`` (windows, spikes, throttling,
silences over plain mappings) are pure; ``app`` holds the Faust I/O; ``delivery`` the receivers.
"""
