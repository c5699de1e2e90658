"""Fixtures of the option chain API tests (test_option_chain_*.py)."""

import pytest
import redis
from django.conf import settings as django_settings

from marketdata import demand
from marketdata.tests.options.chain_data import (
    chain_list,
    chain_store,
)

API = "/api/v1/market-data/option-chain"
GREEKS = ("iv", "delta", "gamma", "theta", "vega")


@pytest.fixture
def fresh_demand():
    """No touches left by other tests: each chain request starts from the subscribed six."""

    url = django_settings.REDIS_URL  # a test may point REDIS_URL elsewhere

    def clear() -> None:
        demand.process_demand_replace()
        if url:
            client = redis.Redis.from_url(url)
            client.delete(demand.HOLDS_KEY, demand.TOUCHES_KEY, demand.REFUSALS_KEY)

    clear()
    yield
    clear()


@pytest.fixture
def listed():
    return {option.symbol: option for option in chain_list()}


@pytest.fixture
def priced(listed):
    chain_store(list(listed.values()))
    return listed


@pytest.fixture
def clock_client(api_client, user):
    """Signed in whatever the clock says (an access token lives 30 minutes)."""
    api_client.force_authenticate(user=user)
    return api_client
