"""Alembic environment: the URL comes from the caller (store.db.upgrade or the alembic CLI with -x url=…)."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from meeting_server.store.tables import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return context.get_x_argument(as_dictionary=True).get("url") or config.get_main_option("sqlalchemy.url") or ""


def run_migrations_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    given = config.attributes.get("connection")
    if given is not None:
        # A caller's connection, already inside its transaction (`meeting-server migrate --to`: the schema and the
        # copied rows commit together, or neither does); Alembic then neither begins nor commits.
        context.configure(connection=given, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
        return
    engine = create_engine(_url())
    with engine.connect() as connection:
        # Batch mode: SQLite cannot ALTER most things, so Alembic copies tables; PostgreSQL alters in place.
        context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
