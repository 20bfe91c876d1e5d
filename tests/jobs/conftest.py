"""Tests of the job executor, the scheduler and task progress.

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
