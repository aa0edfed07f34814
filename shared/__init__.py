"""Brink's common code: message schemas, codec, topic names, settings, dead letters, metrics, logging.

Importing this package reads no environment variable and opens no connection.
"""
