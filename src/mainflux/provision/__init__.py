"""The provision service: one call to onboard a gateway (Mainflux's ``provision``)."""
