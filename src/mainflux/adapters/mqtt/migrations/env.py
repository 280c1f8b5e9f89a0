"""Alembic environment of the MQTT broker's state."""

from alembic import context

from mainflux.core.db import run_migrations_online

run_migrations_online(context)
