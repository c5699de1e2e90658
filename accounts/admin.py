"""Django admin for users, with "log out everywhere"."""

from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.forms import UserChangeForm, UserCreationForm
from django.db.models import QuerySet
from django.http import HttpRequest

from accounts.models import User
from accounts.services import user_tokens_revoke


class EmailUserCreationForm(UserCreationForm):
    class Meta:
        model = User
        fields = ["email", "name"]


class EmailUserChangeForm(UserChangeForm):
    class Meta:
        model = User
        fields = "__all__"


@admin.register(User)
class UserAdmin(DjangoUserAdmin):
    form = EmailUserChangeForm
    add_form = EmailUserCreationForm
    ordering = ["-created_at"]
    list_display = ["email", "name", "is_active", "is_verified", "is_staff", "created_at"]
    list_filter = ["is_active", "is_verified", "is_staff", "is_superuser"]
    search_fields = ["email", "name"]
    readonly_fields = ["created_at", "updated_at", "last_login"]
    fieldsets = [
        (None, {"fields": ["email", "name", "password"]}),
        ("Status", {"fields": ["is_active", "is_verified"]}),
        ("Permissions", {"fields": ["is_staff", "is_superuser", "groups", "user_permissions"]}),
        ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "name", "password1", "password2"]}),
    ]
    actions = ["log_out_everywhere"]

    @admin.action(
        description="Log out everywhere (revoke every token of the selected users)",
        permissions=["change"],
    )
    def log_out_everywhere(self, request: HttpRequest, queryset: QuerySet[User]) -> None:
        # A password change and a deactivation (saved here or anywhere) do the same by
        # themselves: accounts.models.User.save.
        users = list(queryset)
        for user in users:
            user_tokens_revoke(user=user)
        self.message_user(
            request,
            f"Logged out {len(users)} user(s) everywhere: their tokens no longer work.",
            messages.SUCCESS,
        )
