"""Alembic environment of the bootstrap service (see :func:`mainflux.core.db.migrate`)."""

from alembic import context

from mainflux.core.db import run_migrations_online

run_migrations_online(context)
