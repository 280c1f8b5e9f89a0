"""Alembic environment of the embedded event log."""

from alembic import context

from mainflux.core.db import run_migrations_online

run_migrations_online(context)
