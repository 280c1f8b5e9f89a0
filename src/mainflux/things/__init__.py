"""The things service: things (devices with a secret key), channels and their connections.

It is the platform's authorization oracle for thing keys; see :mod:`.service` for the
rules, :mod:`.api` and :mod:`.authapi` for the HTTP faces and :mod:`.grpc` for gRPC."""
