"""Fault and fuzz runs against real processes: see tests/faults/harness.py and docs/operations.md."""
