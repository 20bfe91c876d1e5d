"""Where things are: the repository's root, and the API paths more than one test module calls
(a path only one module calls stays in that module)."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
"""The repository's root (the folder holding igny8d/, tui/ and tests/)."""

# -- auth and tenants ------------------------------------------------------------------------
REGISTER = "/api/v1/auth/register/"
LOGIN = "/api/v1/auth/login/"
REFRESH = "/api/v1/auth/refresh/"
ME = "/api/v1/auth/me/"
USERS = "/api/v1/auth/users/"
SITES = "/api/v1/auth/sites/"
SECTORS = "/api/v1/auth/sectors/"

# -- planner ---------------------------------------------------------------------------------
KEYWORDS = "/api/v1/planner/keywords/"
KEYWORDS_IMPORT = "/api/v1/planner/keywords/import_keywords/"
AUTO_CLUSTER = "/api/v1/planner/keywords/auto_cluster/"
CLUSTERS = "/api/v1/planner/clusters/"
IDEAS_AUTO = "/api/v1/planner/clusters/auto_generate_ideas/"
IDEAS = "/api/v1/planner/ideas/"
QUEUE_TO_WRITER = "/api/v1/planner/ideas/bulk_queue_to_writer/"

# -- writer ----------------------------------------------------------------------------------
TASKS = "/api/v1/writer/tasks/"
CONTENT_AUTO = "/api/v1/writer/tasks/auto_generate_content/"
CONTENT = "/api/v1/writer/content/"
PROMPTS_AUTO = "/api/v1/writer/content/generate_image_prompts/"
IMAGES = "/api/v1/writer/images/"
IMAGES_AUTO = "/api/v1/writer/images/generate_images/"

# -- billing ---------------------------------------------------------------------------------
BALANCE = "/api/v1/billing/credits/balance/balance/"
USAGE = "/api/v1/billing/credits/usage/"
TRANSACTIONS = "/api/v1/billing/credits/transactions/"

# -- system and admin ------------------------------------------------------------------------
PROGRESS = "/api/v1/system/settings/task_progress/{}/"
"""A job's progress: `PROGRESS.format(task_id)`."""
ADMIN = "/api/v1/admin/"
