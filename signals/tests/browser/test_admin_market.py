"""The signal admin as staff see it in a browser: the option's live price and its time in IST
beside the trade fields, the P&L there, the IV/Greeks slot, and the day's chart of the option
and its underlying with the target, entry and stop-loss levels; the panel follows new ticks
and typed levels; the list shows last prices and P&L."""

from datetime import UTC, datetime, timedelta

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.support.wait import WebDriverWait

from marketdata.models import Instrument
from signals import services
from signals.tests.helpers import OPTION, option_contract_create, signal_data, stored_tick

# The first test may install Chromium (conftest.py): apt-get can take minutes on a new machine.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.timeout(900)]

# 10:00 IST on a Monday; the option's last tick is at 10:41:07 IST (05:11:07 UTC).
SESSION_START = datetime(2025, 3, 3, 4, 30, tzinfo=UTC)
LAST_TICK_AT = SESSION_START + timedelta(minutes=41, seconds=7)
WAIT = 10  # seconds a page may take to refresh its panel (it asks every 3)


@pytest.fixture
def signal(admin_user):
    """A BUY of 2 lots (75) of the NIFTY 24000 call from 120 (target 150, stop 100), and the
    morning's ticks: the option rising to 131.5 at 10:41:07 IST, NIFTY around 24,000."""
    option_contract_create(OPTION)
    for minute in range(41):
        at = SESSION_START + timedelta(minutes=minute)
        stored_tick(120.0 + minute * 0.25, at)
        stored_tick(24000.0 + minute * 2, at, symbol="NIFTY")
    stored_tick(131.5, LAST_TICK_AT)
    return services.signal_create(author=admin_user, data=signal_data())


# Read in one script each: the page replaces its panel every few seconds, which would leave a
# found element stale between two WebDriver calls.


def _text(browser, selector: str) -> str:
    text: str = browser.execute_script(
        "return document.querySelector(arguments[0]).textContent.trim().replace(/\\s+/g, ' ')",
        selector,
    )
    return text


def _level(browser, name: str) -> tuple[float, float]:
    """A level drawn on the chart: its price, and its line's height in the picture."""
    price, y = browser.execute_script(
        "const g = document.querySelector(`svg.signal-chart .level-${arguments[0]}`);"
        "return [g.dataset.price, g.querySelector('line').getAttribute('y1')];",
        name,
    )
    return float(price), float(y)


def test_the_change_page_shows_the_live_price_pnl_and_chart(staff_browser, live_server, signal):
    browser = staff_browser
    browser.get(f"{live_server.url}/admin/signals/signal/{signal.pk}/change/")

    assert _text(browser, "#signal-last-price") == "131.50"
    assert _text(browser, "#signal-last-price-at").startswith("10:41:07 IST")
    # +11.5 a unit: Rs 862.50 a lot, Rs 1,725.00 for the 2 lots
    assert _text(browser, "#signal-pnl-lot").startswith("Rs +862.50")
    assert _text(browser, "#signal-pnl-total") == "Rs +1,725.00"
    assert "IV and Greeks" in _text(browser, "#signal-greeks")
    target, entry, stop = (
        _level(browser, "target"),
        _level(browser, "entry"),
        _level(browser, "stop-loss"),
    )
    assert (target[0], entry[0], stop[0]) == (150.0, 120.0, 100.0)
    assert target[1] < entry[1] < stop[1]  # drawn top to bottom: target, entry, stop loss
    points = browser.execute_script(
        "return document.querySelector('svg.signal-chart polyline.option').getAttribute('points')"
    )
    assert len(points.split()) == 42  # 10:00 to 10:41 IST, a point a minute
    assert browser.find_element(By.CSS_SELECTOR, "svg.signal-chart polyline.underlying")
    labels = browser.execute_script(
        "return [...document.querySelectorAll('svg .time-label')].map(e => e.textContent)"
    )
    assert labels[:3] == ["09:15", "10:00", "11:00"]


def test_the_panel_follows_new_ticks_and_typed_levels(staff_browser, live_server, signal):
    browser = staff_browser
    browser.get(f"{live_server.url}/admin/signals/signal/{signal.pk}/change/")

    stored_tick(133.25, LAST_TICK_AT + timedelta(seconds=53))  # 10:42:00 IST
    WebDriverWait(browser, WAIT).until(lambda b: _text(b, "#signal-last-price") == "133.25")
    assert _text(browser, "#signal-last-price-at").startswith("10:42:00 IST")

    entry = browser.find_element(By.ID, "id_entry_price")
    entry.clear()
    entry.send_keys("125")
    browser.execute_script("arguments[0].dispatchEvent(new Event('change'))", entry)
    WebDriverWait(browser, WAIT).until(lambda b: _level(b, "entry")[0] == 125.0)
    # 133.25 - 125 = +8.25 a unit: Rs 618.75 a lot
    assert _text(browser, "#signal-pnl-lot").startswith("Rs +618.75")


def test_the_add_page_shows_the_picked_options_price(staff_browser, live_server, signal):
    browser = staff_browser
    option = Instrument.objects.get(symbol=OPTION)
    browser.get(f"{live_server.url}/admin/signals/signal/add/?instrument={option.pk}")

    assert _text(browser, "#signal-last-price") == "131.50"
    assert browser.find_elements(By.CSS_SELECTOR, "svg.signal-chart polyline.option")


def test_the_list_shows_last_prices_and_pnl_in_ist(staff_browser, live_server, signal):
    browser = staff_browser
    browser.get(f"{live_server.url}/admin/signals/signal/")

    assert _text(browser, "#result_list td.field-option_last_price") == "131.50 10:41:07"
    assert _text(browser, "#result_list td.field-option_pnl").startswith("+1,725.00")
