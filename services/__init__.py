"""Brink's three services (ingest, enrichment, alerting) and the `brink` command line."""
