"""Message writers: bus messages into the message store, one module per storage engine.

:mod:`~mainflux.writers.writer` (the bus side) and :mod:`~mainflux.writers.sink`
(transform, batch, retry) know only the :class:`~mainflux.writers.store.MessageStore`
port; :mod:`~mainflux.writers.postgres` and :mod:`~mainflux.writers.sqlite` implement
it, and :func:`~mainflux.writers.store.open_store` picks one for an engine."""
