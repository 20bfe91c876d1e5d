"""What the tests share, one module per concern (fixtures stay in the conftest.py files; no
test module imports another: tests/architecture/test_test_tree.py checks it).

- `client`: the HTTP client that checks the envelope on every response (`Client`, `Response`,
  `check_envelope`, `PASSWORD`) and a multipart body (`multipart`).
- `app`: settings, a running server (`make_settings`, `RunningApp`, `start_app`, `stop_app`,
  `start_jobs_app`) and the throwaway Postgres databases.
- `paths`: the repository's `ROOT` and the API paths several modules call.
- `factories`: owners, accounts with sites and sectors, operators, keywords (one by one or
  a CSV `upload`), clusters, tasks and content, made through the API (or in the store where a
  factory says so).
- `reads`: every page of a list, balances, a job's usage row.
- `jobs`: an AI action posted and followed through task_progress to its end; a paid job
  queued below the API; the executor's tests' actor, submit, job row and `until`.
- `process`: the command line in a clean environment, free ports, one-line refusals.
- `drill`: real `igny8d serve` processes on one database driven from outside (the kill -9
  drill, the takeover figures, the graceful stop).
- `pg_server`: a throwaway PostgreSQL server a test stops and starts (`migrated_pg`).
- `gold`: the clustering gold set and its measures.
- `console`, `console_replay`: driving the operator console; the recorded admin API it is
  shown against in snapshots (and in the README's screenshots).
- `fake_openai`, `fake_sentry`: local fakes of an OpenAI-compatible server and Sentry's ingest.
"""
