"""Tests of the server as a process and of what an operator sees of it: the command line, settings
and the config file, start-up refusals, createsuperuser, logs, metrics, Sentry, keep-alive, the
event loop, unexpected errors, make bench, and the kill -9 drill.

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
