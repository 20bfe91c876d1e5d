"""Alembic environment: runs on a connection handed in by Store.migrate()."""

from __future__ import annotations

from alembic import context

from igny8d.store.schema import OUTSIDE_METADATA, metadata

config = context.config
target_metadata = metadata


def include_name(name: str | None, type_: str, parent_names: object) -> bool:
    """Search indexes made by raw SQL (migration 0005) are not part of the Core metadata."""
    return name is None or not name.startswith(OUTSIDE_METADATA)


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `igny8d migrate` (Store.migrate)")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        include_name=include_name,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline SQL generation is not supported")
run_migrations_online()
