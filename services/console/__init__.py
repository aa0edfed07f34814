"""The analyst console: alerts and their articles in a local store, a REST + SSE API and pages,
and a receiver mode that POSTs new alerts to webhooks without replaying history."""
