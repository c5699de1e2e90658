"""nginx's configuration: docker's site in step with the template, the local one valid nginx."""

import subprocess

import pytest

from deploy.nginx_config import (
    DOCKER,
    DOCKER_SITE,
    NGINX,
    local_config_write,
    nginx_command,
    site_render,
    template_render,
)
from deploy.processes import Topology


def test_docker_site_is_the_template_rendered_for_the_containers():
    assert DOCKER_SITE.read_text() == site_render(DOCKER), (
        "deploy/nginx.conf is out of step with deploy/nginx/site.conf.in: run "
        "`.venv/bin/python -m deploy.nginx_config > deploy/nginx.conf`"
    )


def test_a_placeholder_left_without_a_value_is_refused():
    with pytest.raises(KeyError, match="LISTEN"):
        template_render("site.conf.in", {"UPSTREAM_SERVERS": "", "STATIC_ROOT": "/s"})


def test_the_local_configuration_is_accepted_by_nginx(tmp_path):
    if not NGINX.exists():
        pytest.skip(f"{NGINX} is not installed (scripts/install_nginx.sh installs it)")
    topology = Topology(run_dir=tmp_path, port=18080, server_ports=(18001, 18002))
    topology.log_dir.mkdir()
    config = local_config_write(
        site=topology.site(), run_dir=tmp_path / "nginx", log_dir=topology.log_dir
    )

    result = subprocess.run(
        nginx_command(config=config, log_dir=topology.log_dir, test=True),
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stderr
    site = (tmp_path / "nginx" / "site.conf").read_text()
    assert "server 127.0.0.1:18001;" in site and "server 127.0.0.1:18002;" in site
