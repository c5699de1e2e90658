"""Users and authentication: the user model, JWT login, refresh, logout and revoked tokens."""
