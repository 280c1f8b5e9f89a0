"""The web console: server-rendered pages over the platform's own HTTP APIs.

Served at ``/`` of the all-in-one gateway (``/ui/``) and by ``mainflux-ui`` in the
microservice deployment. Scripts, styles and icons ship in the package: it works offline."""
