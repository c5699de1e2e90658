from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination
from rest_framework.request import Request


class SignalPagination(PageNumberPagination):
    """Page-number pages; a malformed `page` or `page_size` is a 400 naming it, not a guess."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request: Request) -> int:
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not raw.isdigit() or not 1 <= int(raw) <= self.max_page_size:
            raise ValidationError(
                {"page_size": [f"Must be an integer from 1 to {self.max_page_size}."]}
            )
        return int(raw)

    def get_page_number(self, request: Request, paginator: object) -> str:
        raw = request.query_params.get(self.page_query_param, "1")
        if not raw.isdigit() or int(raw) < 1:
            raise ValidationError({"page": ["Must be a positive integer."]})
        return raw
