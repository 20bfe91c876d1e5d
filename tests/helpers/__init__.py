"""What the tests share, one module per concern (fixtures stay in the conftest.py files; no
test module imports another).

- `client`: the HTTP client that checks the envelope on every response (`Client`, `Response`,
  `check_envelope`, `PASSWORD`).
- `app`: settings, a running server (`make_settings`, `RunningApp`, `start_app`, `stop_app`,
  `start_jobs_app`) and the throwaway Postgres databases.
- `paths`: the repository's `ROOT` and the API paths several modules call.
- `factories`: owners, accounts with sites and sectors, operators, keywords, clusters, tasks
  and content, made through the API (or in the store where a factory says so).
- `reads`: every page of a list, balances, a job's usage row.
- `jobs`: an AI action posted and followed through task_progress to its end; a paid job
  queued below the API.
- `process`: the command line in a clean environment, free ports, one-line refusals.
- `gold`: the clustering gold set and its measures.
- `console`, `console_replay`: driving the operator console; the recorded admin API it is
  shown against in snapshots (and in the README's screenshots).
- `fake_openai`, `fake_sentry`: local fakes of an OpenAI-compatible server and Sentry's ingest.
"""
