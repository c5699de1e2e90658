"""Signal events reach the live push's broadcast group, from the API, admin and tracking.

The receiver joins `marketdata.live.publish.SIGNALS_GROUP` on the configured channel layer, as
every connected WebSocket client does, so these run through Redis when REDIS_URL is set.
"""

from collections.abc import Callable
from typing import Any

import pytest

from marketdata.live import publish
from signals import services
from signals.models import Signal
from signals.tests.helpers import events_after, signal_data, ticks_after

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("option_master")]

BASE = "/api/v1/signals/"


@pytest.fixture
def committed(
    django_capture_on_commit_callbacks,
) -> Callable[[Callable[[], Any]], Callable[[], Any]]:
    """Wrap a write so that its transaction's on_commit callbacks run, as on a real commit."""

    def wrap(write: Callable[[], Any]) -> Callable[[], Any]:
        def run() -> None:
            with django_capture_on_commit_callbacks(execute=True):
                write()

        return run

    return wrap


def test_publishing_through_the_api_pushes_a_created_event(
    staff_client, committed, tag, staff_user
):
    def publish() -> None:
        assert staff_client.post(BASE, signal_data(notes=tag), format="json").status_code == 201

    [event] = events_after(committed(publish), tag=tag, count=1)

    assert event["type"] == "signal" and event["action"] == "created"
    signal = Signal.objects.get(notes=tag)
    assert event["signal"]["id"] == signal.pk
    assert event["signal"]["user_id"] == staff_user.pk
    assert event["signal"]["status"] == "ACTIVE" and event["signal"]["entry_price"] == 120.0


@pytest.mark.parametrize(
    ("path", "body", "action", "status"),
    [
        ("", {"target_price": 155}, "updated", "ACTIVE"),
        ("/cancel", {}, "cancelled", "CANCELLED"),
        ("/close", {"exit_price": 149}, "closed", "COMPLETED"),
    ],
)
def test_each_api_change_pushes_its_event(
    staff_client, make_signal, committed, tag, path, body, action, status
):
    signal = make_signal(notes=tag)
    method = staff_client.patch if path == "" else staff_client.post

    def change() -> None:
        assert method(f"{BASE}{signal.pk}{path}", body, format="json").status_code == 200

    [event] = events_after(committed(change), tag=tag, count=1)

    assert (event["action"], event["signal"]["status"], event["signal"]["id"]) == (
        action,
        status,
        signal.pk,
    )


def test_admin_changes_push_events_too(admin_client, make_signal, committed, tag):
    signal = make_signal(notes=tag)

    def cancel_in_admin() -> None:
        body = {"action": "cancel_selected", "_selected_action": [signal.pk]}
        assert admin_client.post("/admin/signals/signal/", body).status_code == 302

    [event] = events_after(committed(cancel_in_admin), tag=tag, count=1)

    assert (event["action"], event["signal"]["status"]) == ("cancelled", "CANCELLED")


def test_a_target_reached_on_the_feed_pushes_a_closed_event(make_signal, committed, tag):
    signal = make_signal(notes=tag)

    def tick_arrives() -> None:
        services.signal_outcomes_check(ticks=ticks_after(signal.created_at, [150.5]))

    [event] = events_after(committed(tick_arrives), tag=tag, count=1)

    assert (event["action"], event["signal"]["outcome"], event["signal"]["exit_price"]) == (
        "closed",
        "TARGET_HIT",
        150.5,
    )


def test_nothing_is_pushed_before_the_change_is_committed(
    staff_user, django_capture_on_commit_callbacks, tag
):
    """A marker sent after the write, but before the commit, arrives first."""

    def write_then_mark_then_commit() -> None:
        with django_capture_on_commit_callbacks(execute=True):
            services.signal_create(author=staff_user, data=signal_data(notes=tag))
            publish.signal_event_publish(event={"action": "marker", "tag": tag})

    events = events_after(write_then_mark_then_commit, tag=tag, count=2)

    assert [event["action"] for event in events] == ["marker", "created"]


def test_a_refused_write_pushes_nothing(staff_client, staff_user, committed, tag):
    def refused_then_mark() -> None:
        bad = staff_client.post(BASE, signal_data(notes=tag, stop_loss=130), format="json")
        assert bad.status_code == 400
        publish.signal_event_publish(event={"action": "marker", "tag": tag})

    [event] = events_after(committed(refused_then_mark), tag=tag, count=1)

    assert event["action"] == "marker"
