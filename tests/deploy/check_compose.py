"""Check packaging/docker-compose.yml without a Docker engine.

Usage: check_compose.py FILE

FILE is the Compose file itself, or the JSON that `docker compose config`
prints for it. ${VAR:-default} references are replaced by their defaults, as
Compose does when VAR is unset. Relative bind-mount sources are read relative
to FILE's folder. Prints one line per failed check and exits 1 when any
failed. Needs PyYAML (Debian package python3-yaml).

The stack it expects: app replicas that publish no port, nginx in front of
them (the only published port besides Redis Commander's on loopback), six
Redis Cluster nodes, a one-shot redis-cluster-init service that forms the
cluster, and Redis Commander in the dev profile.
"""

import os
import re
import sys

import yaml

REQUIRED_APP_ENVIRONMENT = ("REDIS_URL", "REDIS_CLUSTER", "SECRET_KEY_BASE", "PHX_HOST", "PORT", "MIX_ENV")
# Behind nginx every connection comes from nginx's address, so the app's
# per-address limits must be lifted (nginx applies them per client).
PER_ADDRESS_LIMITS = ("COLLECTIVE_MAX_CONNECTIONS_PER_ADDRESS", "COLLECTIVE_MAX_NEW_CONNECTIONS_PER_MINUTE")
LIFTED_LIMIT_MINIMUM = 1_000_000
REDIS_NODE_NAME = re.compile(r"^redis-[0-9]+$")
REDIS_NODE_COUNT = 6
DEFAULT_REFERENCE = re.compile(r"\$\{[A-Z_][A-Z0-9_]*(?::?-([^}]*))?\}")
TEMPLATE_PLACEHOLDER = re.compile(r"\$\{(COLLECTIVE_[A-Z0-9_]*)\}")

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


def environment(service):
    """Return the service's environment as a dict of strings."""
    entries = service.get("environment") or {}
    if isinstance(entries, list):
        return dict(entry.split("=", 1) if "=" in entry else (entry, "") for entry in entries)
    return {name: "" if value is None else str(value) for name, value in entries.items()}


def as_text(command):
    return " ".join(str(part) for part in command) if isinstance(command, list) else str(command or "")


def healthcheck_command(service):
    return as_text((service.get("healthcheck") or {}).get("test") or [])


def published_ports(service):
    """Return each published port as "[host_ip:]published:target", from the short syntax or the long one config prints."""
    ports = []
    for port in service.get("ports") or []:
        if isinstance(port, dict):
            host_ip = port.get("host_ip")
            ports.append("%s%s:%s" % (host_ip + ":" if host_ip else "", port.get("published"), port.get("target")))
        else:
            ports.append(str(port))
    return ports


def mounts(service, base_dir):
    """Return {target: source} of the service's volumes, with bind sources made absolute."""
    result = {}
    for volume in service.get("volumes") or []:
        if isinstance(volume, dict):
            source, target = volume.get("source", ""), volume.get("target", "")
        else:
            parts = str(volume).split(":")
            source, target = parts[0], parts[1] if len(parts) > 1 else ""
        if source.startswith((".", "/")):
            source = os.path.normpath(os.path.join(base_dir, source))
        result[target] = source
    return result


def depends_on_condition(service, name):
    depends_on = service.get("depends_on") or {}
    if not isinstance(depends_on, dict):
        return None
    return (depends_on.get(name) or {}).get("condition")


def check_app(app, redis_nodes):
    check("build" in app, "app: no build section")
    build = app.get("build") or {}
    check(str(build.get("dockerfile", "")).endswith("packaging/Dockerfile"),
          "app: build.dockerfile is not packaging/Dockerfile")
    replicas = (app.get("deploy") or {}).get("replicas")
    check(replicas is not None and int(replicas) >= 2,
          "app: deploy.replicas is missing or below 2, so nginx has nothing to balance")

    variables = environment(app)
    for name in REQUIRED_APP_ENVIRONMENT:
        check(name in variables, "app: environment has no %s" % name)
    seeds = [seed for seed in variables.get("REDIS_URL", "").split(",") if seed]
    check(all(seed.startswith("redis://") for seed in seeds), "app: a REDIS_URL seed is not a redis:// URL")
    seed_hosts = {seed[len("redis://"):].split(":")[0] for seed in seeds}
    check(seed_hosts == set(redis_nodes),
          "app: REDIS_URL seeds %s are not the Redis Cluster nodes %s" % (sorted(seed_hosts), sorted(redis_nodes)))
    check(variables.get("REDIS_CLUSTER") == "1", "app: REDIS_CLUSTER is not 1")
    check(variables.get("MIX_ENV") == "prod", "app: MIX_ENV is not prod")
    for name in PER_ADDRESS_LIMITS:
        value = variables.get(name, "")
        check(value.isdigit() and int(value) >= LIFTED_LIMIT_MINIMUM,
              "app: %s is not lifted (at least %d), yet every connection comes from nginx" % (name, LIFTED_LIMIT_MINIMUM))

    check("/health/" in healthcheck_command(app), "app: the healthcheck does not call /health/")
    check(depends_on_condition(app, "redis-cluster-init") == "service_completed_successfully",
          "app: does not wait for redis-cluster-init to complete")
    check(not published_ports(app), "app: publishes a port; witnesses must come through nginx")


def check_nginx(nginx, base_dir):
    check(str(nginx.get("image", "")).startswith("nginx:"), "nginx: not the official nginx image")
    variables = environment(nginx)
    servers = variables.get("COLLECTIVE_UPSTREAM_SERVERS", "")
    check("server app:4000" in servers, "nginx: COLLECTIVE_UPSTREAM_SERVERS does not name app:4000")
    check("max_fails=" in servers and "fail_timeout=" in servers,
          "nginx: the upstream server has no max_fails and fail_timeout, so a dead replica is not skipped")
    check(variables.get("NGINX_ENVSUBST_FILTER", "").startswith("^COLLECTIVE_"),
          "nginx: NGINX_ENVSUBST_FILTER does not keep envsubst to the COLLECTIVE_ variables")

    volumes = mounts(nginx, base_dir)
    check(volumes.get("/etc/nginx/nginx.conf", "").endswith("packaging/nginx/nginx.conf"),
          "nginx: packaging/nginx/nginx.conf is not mounted as /etc/nginx/nginx.conf")
    template = volumes.get("/etc/nginx/templates/collective.conf.template", "")
    check(template.endswith("packaging/nginx/collective.conf.template"),
          "nginx: collective.conf.template is not mounted under /etc/nginx/templates/")
    for source in (template, volumes.get("/etc/nginx/nginx.conf", "")):
        check(not source or os.path.isfile(source), "nginx: the mounted file %s does not exist" % source)
    if template and os.path.isfile(template):
        with open(template, encoding="utf-8") as stream:
            placeholders = set(TEMPLATE_PLACEHOLDER.findall(stream.read()))
        for name in sorted(placeholders - set(variables)):
            check(False, "nginx: the template's placeholder %s has no environment variable" % name)

    listen = variables.get("COLLECTIVE_LISTEN", "")
    check(any(port.endswith(":" + listen) for port in published_ports(nginx)),
          "nginx: no published port reaches COLLECTIVE_LISTEN (%r)" % listen)
    check(depends_on_condition(nginx, "app") == "service_healthy",
          "nginx: does not wait for healthy app replicas, so it may resolve app to none of them")
    check("/health/" in healthcheck_command(nginx), "nginx: the healthcheck does not call /health/")


def check_redis_node(name, node):
    command = as_text(node.get("command"))
    check("--cluster-enabled yes" in command, "%s: not started with --cluster-enabled yes" % name)
    check("--appendonly yes" in command, "%s: AOF persistence (--appendonly yes) is off" % name)
    check("/data" in mounts(node, "."), "%s: /data is not on a volume" % name)
    check("ping" in healthcheck_command(node), "%s: the healthcheck does not PING" % name)
    check(not published_ports(node), "%s: publishes a port" % name)


def check_redis_cluster_init(init, redis_nodes, base_dir):
    invocation = as_text(init.get("entrypoint")) + " " + as_text(init.get("command"))
    for node in redis_nodes:
        check("%s:6379" % node in invocation, "redis-cluster-init: does not name %s:6379" % node)
        check(depends_on_condition(init, node) == "service_healthy",
              "redis-cluster-init: does not wait for a healthy %s" % node)
    check(str(init.get("restart", "no")) == "no", "redis-cluster-init: a one-shot service must not restart")

    script = next((source for target, source in mounts(init, base_dir).items() if target in invocation), "")
    check(script.endswith("packaging/redis/cluster-init.sh"),
          "redis-cluster-init: does not run packaging/redis/cluster-init.sh")
    if script and os.path.isfile(script):
        with open(script, encoding="utf-8") as stream:
            text = stream.read()
        for option in ("--cluster create", "--cluster-replicas 1", "--cluster-yes", "cluster_state:ok"):
            check(option in text, "redis-cluster-init: cluster-init.sh has no %s" % option)


def check_redis_commander(commander, redis_nodes):
    check("dev" in (commander.get("profiles") or []), "redis-commander: not in the dev profile")
    ports = published_ports(commander)
    check(any("8081" in port for port in ports), "redis-commander: port 8081 is not published")
    check(all(port.startswith("127.0.0.1:") for port in ports),
          "redis-commander: port 8081 is published beyond 127.0.0.1")
    clusters = environment(commander).get("CLUSTERS", "")
    check(all("%s:6379" % node in clusters for node in redis_nodes),
          "redis-commander: CLUSTERS does not list every Redis Cluster node")


def main(path):
    with open(path, encoding="utf-8") as stream:
        model = with_defaults(yaml.safe_load(stream))
    base_dir = os.path.dirname(os.path.abspath(path))

    services = model.get("services") or {}
    for name in ("app", "nginx", "redis-cluster-init", "redis-commander"):
        check(name in services, "no service named %s" % name)
    redis_nodes = sorted(name for name in services if REDIS_NODE_NAME.match(name))
    check(len(redis_nodes) == REDIS_NODE_COUNT,
          "expected %d Redis Cluster nodes (redis-1 ... redis-%d), found %s"
          % (REDIS_NODE_COUNT, REDIS_NODE_COUNT, redis_nodes))

    if "app" in services:
        check_app(services["app"], redis_nodes)
    if "nginx" in services:
        check_nginx(services["nginx"], base_dir)
    for name in redis_nodes:
        check_redis_node(name, services[name])
    data_volumes = [mounts(services[name], base_dir).get("/data") for name in redis_nodes]
    check(len(set(data_volumes)) == len(data_volumes), "the Redis nodes share a /data volume")
    if "redis-cluster-init" in services:
        check_redis_cluster_init(services["redis-cluster-init"], redis_nodes, base_dir)
    if "redis-commander" in services:
        check_redis_commander(services["redis-commander"], redis_nodes)

    publishing = sorted(name for name, service in services.items()
                        if published_ports(service) and name not in ("nginx", "redis-commander"))
    check(not publishing, "only nginx and redis-commander may publish ports, yet %s do" % publishing)

    for failure in failures:
        print("    %s: %s" % (path, failure))
    return 1 if failures else 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
