"""Alembic's environment: the URL comes from the Config built in code (``core.database.alembic_config``)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine, pool

from core.feedback_store import metadata
from core.taught_store import taught_classes  # noqa: F401  (its table joins the metadata)

url = context.config.attributes["url"]
connectable = create_engine(url, poolclass=pool.NullPool)
with connectable.connect() as connection:
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
connectable.dispose()
