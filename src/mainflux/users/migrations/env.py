"""Alembic environment of the users schema (applied by ``mainflux.core.db.migrate``)."""

from alembic import context

from mainflux.core.db import run_migrations_online

run_migrations_online(context)
