"""What the option chain API tests share: the paths and reading the answers."""

import json

API = "/api/v1/market-data/option-chain"
GREEKS = ("iv", "delta", "gamma", "theta", "vega")


def strict_json(response) -> dict:
    """The body, refusing NaN and Infinity (which Python's json would read)."""
    assert response.status_code == 200, response.content

    def refuse(constant: str) -> None:
        raise AssertionError(f"{constant} in the JSON")

    body: dict = json.loads(response.content, parse_constant=refuse)
    return body


def chain_of(client, underlying: str = "NIFTY", **params) -> dict:
    return strict_json(client.get(f"{API}/{underlying}", params))


def by_strike(body: dict) -> dict[float, dict]:
    return {row["strike"]: row for row in body["strikes"]}


def errors_of(response) -> dict:
    assert response.status_code == 400, response.content
    return response.json()["errors"]
