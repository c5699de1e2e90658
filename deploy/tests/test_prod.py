"""`make prod`'s supervisor: what it starts, and what it refuses to start without."""

import subprocess
import sys

from deploy.processes import BASE_DIR, Topology, programs, set_environment


def test_the_set_is_nginx_before_one_server_per_port_one_feed_a_worker_and_a_beat(tmp_path):
    topology = Topology(run_dir=tmp_path, port=18080, server_ports=(18001, 18002, 18003))

    names = [program.name for program in programs(topology)]
    commands = {program.name: program.command for program in programs(topology)}

    assert names == [
        "server-18001",
        "server-18002",
        "server-18003",
        "feed",
        "worker",
        "beat",
        "nginx",
    ]
    assert all(
        {"serve", "--no-feed", "--proxy-headers", f"--port={port}"}
        <= set(commands[f"server-{port}"])
        for port in (18001, 18002, 18003)
    )
    assert commands["feed"][2:] == ["run_feed", "--ignore-market-hours"]


def test_the_set_runs_its_own_feed_so_beat_does_not_supervise_one(tmp_path):
    env = set_environment(Topology(run_dir=tmp_path), {"NUM_PROXIES": "2"})

    assert env["FEED_SUPERVISOR_ENABLED"] == "false"
    assert env["NUM_PROXIES"] == "2"  # what the deployment says wins over nginx's one
    assert set_environment(Topology(run_dir=tmp_path), {})["NUM_PROXIES"] == "1"


def test_make_prod_refuses_to_start_without_redis_and_says_why(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "deploy.prod", f"--run-dir={tmp_path}"],
        cwd=BASE_DIR,
        env={
            "PATH": "/usr/bin:/bin",
            "REDIS_URL": "",
            "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "REDIS_URL is required for make prod" in result.stderr
    assert not (tmp_path / "logs" / "nginx.log").exists()  # nothing was started
