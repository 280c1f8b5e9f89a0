"""Message readers: the HTTP API that serves stored messages back, one module per engine.

:mod:`~mainflux.readers.api` knows only the
:class:`~mainflux.readers.models.MessageReader` port; :mod:`~mainflux.readers.sql`
implements it on the shared schema (PostgreSQL and SQLite)."""
