"""Table specs of the writer (tasks, content, images), scoped at the `sector` level."""

from __future__ import annotations

from igny8d.store.crud import TableSpec
from igny8d.store.schema import content, images, tasks

TASKS = TableSpec(tasks, "sector", "Task")
CONTENT = TableSpec(content, "sector", "Content")
IMAGES = TableSpec(images, "sector", "Image")
