"""``python -m mainflux.cli`` runs the ``mainflux`` command."""

from mainflux.cli.main import app

app(prog_name="mainflux")
