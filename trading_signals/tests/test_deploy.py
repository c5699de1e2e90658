"""deploy/compose.yaml checked without docker: `make test-mongodb` runs `docker compose config`
only where the compose plugin is installed, so what that check cannot reach here is read
from the file itself: the services, and the files and commands they name."""

import shlex
from pathlib import Path
from typing import Any

import pytest
import yaml
from django.core.management import get_commands

from trading_signals.settings.environment import BASE_DIR

DEPLOY = Path(BASE_DIR) / "deploy"
APP_SERVICES = ("migrate", "web", "worker", "beat")


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    return loaded


def test_the_stack_has_a_mongodb_replica_set_redis_nginx_and_the_app_processes(compose):
    services = compose["services"]
    assert set(services) == {"mongodb", "redis", "nginx", *APP_SERVICES}
    mongod = services["mongodb"]["command"]
    replica_set = mongod[mongod.index("--replSet") + 1]
    for name in APP_SERVICES:
        assert f"replicaSet={replica_set}" in services[name]["environment"]["MONGODB_URL"]


def test_the_app_image_is_built_from_the_repositorys_dockerfile(compose):
    for name in APP_SERVICES:
        build = compose["services"][name]["build"]
        assert (DEPLOY / build["context"] / build["dockerfile"]).is_file()


def _command_lines(argv: list[str]) -> list[list[str]]:
    """A service's command, or each command of its `sh -c "a && b"`."""
    if argv[:2] == ["sh", "-c"]:
        return [shlex.split(line) for line in argv[2].split("&&")]
    return [argv]


def test_every_app_process_runs_a_command_the_project_has(compose):
    commands = get_commands()
    for name in APP_SERVICES:
        for argv in _command_lines(compose["services"][name]["command"]):
            if argv[:2] == ["python", "manage.py"]:
                assert argv[2] in commands, f"{name}: no management command {argv[2]!r}"
            else:
                assert argv[:3] == ["celery", "-A", "trading_signals"], shlex.join(argv)


def test_nginx_mounts_the_repositorys_config_and_proxies_to_web(compose):
    source = compose["services"]["nginx"]["volumes"][0].split(":")[0]
    web = compose["services"]["web"]["command"]
    port = web[web.index("--port") + 1]
    assert f"server web:{port};" in (DEPLOY / source).read_text()
