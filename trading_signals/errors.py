"""The one domain error type: services raise it, the API answers it with a 400 naming the fields.

It depends on nothing but Python, so services and selectors raise it without importing DRF.
"""


class ApplicationError(Exception):
    """A rule of the domain was broken; `errors` maps field names to reasons."""

    def __init__(self, message: str, *, errors: dict[str, list[str]] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = errors or {}


def field_error(field: str, reason: str) -> ApplicationError:
    return ApplicationError(reason, errors={field: [reason]})
