"""Routes under /api/v1/signals/."""

from rest_framework.routers import SimpleRouter

from signals.views import SignalViewSet

router = SimpleRouter(trailing_slash=False)
router.register("", SignalViewSet, basename="signal")

urlpatterns = router.urls
