"""What the SQL engines share: row tuples in column order, and telling bad data from an outage.

Both engines insert through their driver (not SQLAlchemy) for speed, so the rows are
tuples in the order of :data:`SENML_COLUMNS` and :data:`JSON_COLUMNS`; each engine
only chooses how the id is written (:func:`senml_values`, :func:`json_values`)."""

from __future__ import annotations

from typing import Any, Final

import msgspec
import orjson
import sqlalchemy as sa

from mainflux.transformers.json import JSONMessage
from mainflux.transformers.senml import SenMLRecord

#: PostgreSQL error classes caused by the data itself: retrying cannot help.
DATA_SQLSTATES: Final = ("22", "23", "54")

#: ``messages`` columns in the order of a row tuple: the id, then the fields of
#: :class:`SenMLRecord` in declaration order.
SENML_COLUMNS: Final = ("id", *SenMLRecord.__struct_fields__)
_DATA_VALUE: Final = SENML_COLUMNS.index("data_value")
#: ``json_messages`` columns in the order of a row tuple.
JSON_COLUMNS: Final = ("id", "channel", "subtopic", "publisher", "protocol", "created", "payload")


def senml_values(rid: Any, r: SenMLRecord) -> tuple[Any, ...]:
    """A ``messages`` row in :data:`SENML_COLUMNS` order, ``data_value`` as bytes."""
    values = (rid, *msgspec.structs.astuple(r))
    if r.data_value is None:
        return values
    return (*values[:_DATA_VALUE], r.data_value.encode(), *values[_DATA_VALUE + 1 :])


def json_values(rid: Any, m: JSONMessage) -> tuple[Any, ...]:
    """A ``json_messages`` row in :data:`JSON_COLUMNS` order, the payload as JSON text."""
    return (
        rid,
        m.channel,
        m.subtopic,
        m.publisher,
        m.protocol,
        m.created,
        orjson.dumps(m.payload).decode(),
    )


def is_data_error(exc: BaseException) -> bool:
    """Whether a database error is caused by the rows themselves (not by an outage)."""
    if not isinstance(exc, sa.exc.DBAPIError) or exc.connection_invalidated:
        return False
    state = getattr(exc.orig, "sqlstate", None)
    if state:
        return str(state).startswith(DATA_SQLSTATES)
    return isinstance(exc, sa.exc.IntegrityError | sa.exc.DataError)
