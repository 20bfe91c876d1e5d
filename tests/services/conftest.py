"""Tests of the business rules below HTTP: the ledger, plan limits, CSV parsing, the monthly grant,
secrets at rest (mostly through the service functions, on both stores).

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
