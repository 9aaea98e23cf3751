"""Check packaging/docker-compose.yml without a Docker engine.

Usage: check_compose.py FILE

FILE is the Compose file itself, or the JSON that `docker compose config`
prints for it. ${VAR:-default} references are replaced by their defaults, as
Compose does when VAR is unset. Prints one line per failed check and exits 1
when any failed. Needs PyYAML (Debian package python3-yaml).
"""

import re
import sys

import yaml

REQUIRED_APP_ENVIRONMENT = ("REDIS_URL", "SECRET_KEY_BASE", "PHX_HOST", "PORT", "MIX_ENV")
DEFAULT_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?-([^}]*))?\}")

failures = []


def check(condition, message):
    if not condition:
        failures.append(message)


def with_defaults(value):
    """Replace ${VAR:-default} with default, recursively, as for an unset VAR."""
    if isinstance(value, str):
        return DEFAULT_REFERENCE.sub(lambda match: match.group(1) or "", value)
    if isinstance(value, list):
        return [with_defaults(item) for item in value]
    if isinstance(value, dict):
        return {key: with_defaults(item) for key, item in value.items()}
    return value


def environment_names(service):
    environment = service.get("environment") or {}
    if isinstance(environment, list):
        return {entry.split("=", 1)[0] for entry in environment}
    return set(environment)


def healthcheck_command(service):
    test = (service.get("healthcheck") or {}).get("test") or []
    return " ".join(test) if isinstance(test, list) else str(test)


def published_ports(service):
    """Return each published port as text, short syntax or the long one config prints."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            ports.append("%s:%s" % (port.get("published"), port.get("target")))
        else:
            ports.append(str(port))
    return ports


def check_app(app):
    check("build" in app, "app: no build section")
    build = app.get("build") or {}
    check(str(build.get("dockerfile", "")).endswith("packaging/Dockerfile"),
          "app: build.dockerfile is not packaging/Dockerfile")
    replicas = (app.get("deploy") or {}).get("replicas")
    check(replicas is not None and int(replicas) >= 1, "app: deploy.replicas is missing or below 1")

    names = environment_names(app)
    for name in REQUIRED_APP_ENVIRONMENT:
        check(name in names, "app: environment has no %s" % name)
    environment = app.get("environment") or {}
    if isinstance(environment, dict):
        check(str(environment.get("REDIS_URL", "")).startswith("redis://redis:"),
              "app: REDIS_URL does not point at the redis service")
        check(environment.get("MIX_ENV") == "prod", "app: MIX_ENV is not prod")

    check("/health/" in healthcheck_command(app), "app: the healthcheck does not call /health/")
    depends_on = app.get("depends_on") or {}
    check(isinstance(depends_on, dict)
          and (depends_on.get("redis") or {}).get("condition") == "service_healthy",
          "app: does not wait for a healthy redis")
    check(any(port.endswith(":4000") for port in published_ports(app)),
          "app: container port 4000 is not published")


def check_redis(redis):
    command = redis.get("command") or []
    command = " ".join(command) if isinstance(command, list) else str(command)
    check("--appendonly yes" in command, "redis: AOF persistence (--appendonly yes) is off")
    volumes = redis.get("volumes") or []
    targets = [volume.get("target") if isinstance(volume, dict) else str(volume).split(":")[1]
               for volume in volumes]
    check("/data" in targets, "redis: /data is not on a volume")
    check("ping" in healthcheck_command(redis), "redis: the healthcheck does not PING")


def check_redis_commander(commander):
    check("dev" in (commander.get("profiles") or []), "redis-commander: not in the dev profile")
    check(any("8081" in port for port in published_ports(commander)),
          "redis-commander: port 8081 is not published")


def main(path):
    with open(path, encoding="utf-8") as stream:
        model = with_defaults(yaml.safe_load(stream))

    services = model.get("services") or {}
    for name in ("app", "redis", "redis-commander"):
        check(name in services, "no service named %s" % name)
    if "app" in services:
        check_app(services["app"])
    if "redis" in services:
        check_redis(services["redis"])
    if "redis-commander" in services:
        check_redis_commander(services["redis-commander"])

    for failure in failures:
        print("    %s: %s" % (path, failure))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
