"""The project's routes: service endpoints, docs, admin and each app's API."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import (
    SpectacularJSONAPIView,
    SpectacularRedocView,
    SpectacularSwaggerView,
)

from accounts.views import admin_login
from trading_signals.api import errors
from trading_signals.api.views import HealthView, RootView

handler404 = errors.not_found
handler500 = errors.server_error

urlpatterns = [
    path("", RootView.as_view(), name="root"),
    path("health", HealthView.as_view(), name="health"),
    path("openapi.json", SpectacularJSONAPIView.as_view(), name="openapi"),
    path("docs", SpectacularSwaggerView.as_view(url_name="openapi"), name="docs"),
    path("redoc", SpectacularRedocView.as_view(url_name="openapi"), name="redoc"),
    # Before admin.site.urls: the admin's login, with the API login's limits (accounts.views).
    path("admin/login/", admin_login),
    path("admin/", admin.site.urls),
    path("api/v1/auth/", include("accounts.urls")),
    path("api/v1/market-data/", include("marketdata.urls")),
    path("api/v1/signals/", include("signals.urls")),
]
