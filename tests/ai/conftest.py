"""Tests of the algorithms and providers, with no server and no database: clustering on the gold
set, intent, text, grammar, the local generators and provider, the OpenAI-compatible provider
against helpers/fake_openai.py, igny8d.text and the HTML sanitiser.

No fixtures of its own: tests/conftest.py's and tests/helpers/ serve it.
"""
