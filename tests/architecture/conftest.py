"""Tests that the architecture holds: import-linter's contracts, every module importing first, no
Tornado below the handlers, no Textual in the server, the AI package importing downwards only.

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
