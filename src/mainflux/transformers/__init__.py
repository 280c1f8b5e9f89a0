"""Payload transformers used by message storage: SenML (JSON and CBOR) and plain JSON.

Each transformer turns one bus message into the records to store, or raises
:class:`TransformerError` naming why the payload was refused."""

from __future__ import annotations

from mainflux.transformers.errors import TransformerError

__all__ = ["TransformerError"]
