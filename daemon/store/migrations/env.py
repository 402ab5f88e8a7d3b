"""Alembic environment. shopwatch runs migrations on a connection it hands over in
``config.attributes["connection"]`` (see :mod:`daemon.store.migrate`), so they work from
inside the running event loop and the same code path serves ``shopwatch db upgrade``."""

from __future__ import annotations

from alembic import context

from daemon.store.migrate import compare_type
from daemon.store.tables import metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through `shopwatch db upgrade`, not the alembic CLI")

context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=compare_type,
)
with context.begin_transaction():
    context.run_migrations()
