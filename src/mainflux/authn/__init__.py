"""authn: login, recovery and API keys as Mainflux-compatible JWTs (HTTP and gRPC)."""
