"""Message storage: writers that persist bus messages, and the readers API over them."""
