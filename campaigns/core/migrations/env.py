"""Alembic environment: always run through campaigns.core.migrate with a live connection."""

from alembic import context
from sqlmodel import SQLModel

import campaigns.core.models  # noqa: F401 - registers the tables on SQLModel.metadata

connection = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("Run migrations with `python -m campaigns init`, not the alembic command.")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    render_as_batch=connection.dialect.name == "sqlite",  # SQLite needs table rebuilds for ALTERs
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
