"""Tests of the store: migrations, the search index, short reads on the event loop, a busy
database, the count cache, the fast read paths, the throwaway Postgres databases.

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
