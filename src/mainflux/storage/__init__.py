"""The message store that writers fill and readers query: its tables and migrations.

Both sides import :mod:`mainflux.storage.schema`; the schema changes only through the
Alembic revisions under ``migrations/``, applied by :mod:`mainflux.storage.migrate`."""
