"""The `brink` command: publish articles, follow alerts, analyse files offline."""
