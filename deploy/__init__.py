"""The production set: nginx's configuration (nginx_config, from the templates in nginx/), the
processes (processes), `make prod` (prod) and `make prod-check` (check, check_*). See
docs/deploy.md. The apps never import this package."""
