# shellcheck shell=bash
# Checks of artillery.yml, sourced by run.sh. Running it needs Artillery from
# npm and a server, so this only reads the scenario.

test_artillery_scenario_joins_lobby() {
    /usr/bin/python3 - "$ROOT/artillery.yml" <<'PYTHON' || fail_test "see the lines above"
import json
import sys

import yaml

with open(sys.argv[1], encoding="utf-8") as stream:
    script = yaml.safe_load(stream)

failures = []
config = script.get("config") or {}
if not str(config.get("target", "")).endswith("/socket/websocket?vsn=2.0.0"):
    failures.append("config.target is not a /socket/websocket?vsn=2.0.0 URL")
for phase in config.get("phases") or []:
    if phase.get("duration", 0) > 60 or phase.get("maxVusers", 10**9) > 1000:
        failures.append("phase %r is not bounded (at most 60 s and 1000 users)" % phase.get("name"))

scenario = (script.get("scenarios") or [{}])[0]
if scenario.get("engine") != "ws":
    failures.append("the scenario does not use the ws engine")
flow = scenario.get("flow") or []
if not flow or json.loads(flow[0].get("send", "null")) != ["1", "1", "collective:lobby", "phx_join", {}]:
    failures.append("the first step is not the Phoenix V2 join of collective:lobby")
loop = next((step["loop"] for step in flow if "loop" in step), [])
heartbeats = [json.loads(step["send"]) for step in loop if "send" in step]
if not heartbeats or heartbeats[0][2:4] != ["phoenix", "heartbeat"]:
    failures.append("the loop sends no heartbeat on the phoenix topic")
if not any("think" in step for step in loop):
    failures.append("the loop does not think between heartbeats")

for failure in failures:
    print("    artillery.yml: " + failure)
sys.exit(1 if failures else 0)
PYTHON
}
