"""users: accounts, login, profile and password reset, as Mainflux's users service."""
