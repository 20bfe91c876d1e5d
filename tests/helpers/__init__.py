"""What the tests share, one module per concern (fixtures stay in the conftest.py files).

- `client`: the HTTP client that checks the envelope on every response (`Client`, `Response`,
  `check_envelope`, `PASSWORD`).
- `app`: settings, a running server (`make_settings`, `RunningApp`, `start_app`, `stop_app`,
  `start_jobs_app`) and the throwaway Postgres databases.
- `fake_openai`, `fake_sentry`: local fakes of an OpenAI-compatible server and Sentry's ingest.
"""
