"""nginx's configuration for the production set, rendered from the templates in deploy/nginx/.

`site.conf.in` is the site (upstream, limits, timeouts, locations), shared by both set-ups;
`local.conf.in` wraps it into a whole configuration for nginx run as the project's own process
(`make prod`, `make prod-check`). deploy/nginx.conf, docker compose's site, is the same template
rendered for the containers:

    .venv/bin/python -m deploy.nginx_config > deploy/nginx.conf

(deploy/tests/test_nginx_config.py fails when the file is out of step with the template).
"""

import os
import pwd
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TEMPLATES = Path(__file__).resolve().parent / "nginx"
DOCKER_SITE = Path(__file__).resolve().parent / "nginx.conf"
NGINX = Path("/usr/sbin/nginx")
PER_IP_CONNECTIONS = 100
_PLACEHOLDER = re.compile(r"@([A-Z_]+)@")


@dataclass(frozen=True)
class Site:
    """What differs between deployments of the site."""

    listen: str  # nginx's `listen` argument: "80", "127.0.0.1:8080"
    servers: Sequence[str]  # the server processes, host:port
    static_root: str  # where collectstatic put the files (STATIC_ROOT)
    access_log: str
    per_ip_connections: int = PER_IP_CONNECTIONS
    # An X-Upstream header naming the server process that answered: make prod-check's way to
    # reach both, kept out of deployments (it shows internal addresses).
    name_upstream: bool = False


DOCKER = Site(
    listen="80",
    servers=["web:8000"],  # compose runs `web` as two replicas: nginx resolves both addresses
    static_root="/app/staticfiles",
    access_log="/var/log/nginx/access.log",
)


def template_render(name: str, values: Mapping[str, str]) -> str:
    """Template `name` with each @NAME@ replaced; a placeholder without a value is an error."""
    text = (TEMPLATES / name).read_text()
    missing = sorted(set(_PLACEHOLDER.findall(text)) - set(values))
    if missing:
        raise KeyError(f"{name}: no value for {', '.join(missing)}")
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def site_render(site: Site) -> str:
    return template_render(
        "site.conf.in",
        {
            "LISTEN": site.listen,
            "UPSTREAM_SERVERS": "\n".join(f"    server {server};" for server in site.servers),
            "STATIC_ROOT": site.static_root.rstrip("/"),
            "ACCESS_LOG": site.access_log,
            "PER_IP_CONNECTIONS": str(site.per_ip_connections),
            "UPSTREAM_HEADER": (
                "add_header X-Upstream $upstream_addr always;"
                if site.name_upstream
                else "# (no X-Upstream header: it would show internal addresses)"
            ),
        },
    )


def _user_directive() -> str:
    """Workers drop root for Debian's web user; a non-root nginx keeps its own user."""
    if os.geteuid() != 0:
        return ""
    for user, group in (("www-data", "www-data"), ("nobody", "nogroup")):
        try:
            pwd.getpwnam(user)
        except KeyError:
            continue
        return f"user {user} {group};"
    return ""


def local_config_write(*, site: Site, run_dir: Path, log_dir: Path) -> Path:
    """Write nginx.conf and site.conf under `run_dir`; the path to give `nginx -c`."""
    run_dir.mkdir(parents=True, exist_ok=True)
    site_path = run_dir / "site.conf"
    site_path.write_text(site_render(site))
    config = run_dir / "nginx.conf"
    config.write_text(
        template_render(
            "local.conf.in",
            {
                "USER": _user_directive(),
                "RUN_DIR": str(run_dir),
                "LOG_DIR": str(log_dir),
                "SITE": str(site_path),
            },
        )
    )
    return config


def nginx_command(*, config: Path, log_dir: Path, test: bool = False) -> list[str]:
    """nginx in the foreground on `config` (`-t`: only check it); no file outside its folders."""
    command = [str(NGINX), "-p", str(config.parent), "-c", str(config)]
    command += ["-e", str(log_dir / "nginx-error.log")]
    return [*command, "-t", "-q"] if test else command


if __name__ == "__main__":
    print(site_render(DOCKER), end="")  # docker compose's site: see the docstring
