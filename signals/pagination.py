"""Page-number pages for signals; a malformed `page` or `page_size` is a 400 naming it."""

from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request

from trading_signals.api.inputs import whole_number_param
from trading_signals.api.pagination import BoundedPageSizeMixin


class SignalPagination(BoundedPageSizeMixin, PageNumberPagination):
    page_size = 50
    max_page_size = 200

    def get_page_number(self, request: Request, paginator: object) -> int:
        return whole_number_param(request.query_params, self.page_query_param, default=1)
