"""Alembic environment of the message store."""

from alembic import context

from mainflux.core.db import run_migrations_online

run_migrations_online(context)
