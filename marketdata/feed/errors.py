"""Errors a feed source raises that the feed command turns into a clear exit."""


class FeedError(Exception):
    """A feed source cannot go on."""


class FeedConfigurationError(FeedError):
    """A setting is missing or wrong (a credential the broker refused, a bad URL...).

    `variable` names the environment variable to fix; `run_feed` prints it and exits 2.
    The message never contains the variable's value.
    """

    def __init__(self, variable: str, message: str) -> None:
        super().__init__(f"{variable}: {message}")
        self.variable = variable
        self.message = message


class AngelOneSessionError(FeedError):
    """Angel One refused the session or feed token (401 at the WebSocket handshake, 403 on REST)."""
