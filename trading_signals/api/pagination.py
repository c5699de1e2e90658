"""Pagination shared by the APIs: a `page_size` outside 1..max_page_size is a 400 naming it."""

from rest_framework.request import Request

from trading_signals.api.inputs import whole_number_param


class BoundedPageSizeMixin:
    """For a DRF paginator: `page_size` is a whole number up to `max_page_size`, never a guess."""

    page_size: int
    max_page_size: int
    # Typed as DRF's paginators type it (None turns the parameter off there), which a mixin
    # of theirs must match.
    page_size_query_param: str | None = "page_size"

    def get_page_size(self, request: Request) -> int:
        return whole_number_param(
            request.query_params,
            self.page_size_query_param or "page_size",
            default=self.page_size,
            maximum=self.max_page_size,
        )
