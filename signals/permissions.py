"""Who may do what with signals: everyone signed in reads; staff write with the model
permissions Django's admin asks for (`signals.add_signal` to publish, `signals.change_signal`
to edit, cancel or close)."""

from rest_framework.permissions import SAFE_METHODS, BasePermission
from rest_framework.request import Request
from rest_framework.views import APIView

# The view's action -> the permissions it needs; an action not listed needs change_signal.
ACTION_PERMISSIONS = {
    "create": ("signals.add_signal",),
    "partial_update": ("signals.change_signal",),
    "cancel": ("signals.change_signal",),
    "close": ("signals.change_signal",),
}
DEFAULT_WRITE_PERMISSIONS = ("signals.change_signal",)


class IsStaffOrReadOnly(BasePermission):
    """Any signed-in user reads; staff holding the model permission publish, edit, cancel and
    close, as in the admin (superusers hold every permission)."""

    message = "Only staff with the permission to publish or change signals can do this."

    def has_permission(self, request: Request, view: APIView) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if request.method in SAFE_METHODS:
            return True
        action = getattr(view, "action", None)
        needed = ACTION_PERMISSIONS.get(str(action), DEFAULT_WRITE_PERMISSIONS)
        return bool(user.is_staff and user.has_perms(needed))
