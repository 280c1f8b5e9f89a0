"""The bootstrap service: zero-touch device configuration (Mainflux's ``bootstrap``)."""
