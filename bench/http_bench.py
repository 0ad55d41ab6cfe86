"""`make bench`: the app under load over HTTP, as its users would run it.

Starts gunicorn (bench/server.py) on a fresh database, seeds it through the
API (bench/seed.py), then runs wrk once per scenario with a Lua script made
for it, and prints requests per second, the median (p50) and 99th percentile
(p99) latency and how many answers were errors. Scenarios:

  list   GET the newest page of messages of a random conversation, as a member
  convs  GET /conversations/ as a random user
  send   POST a message to a random conversation, as a member
  mixed  80% list, 20% send

    .venv/bin/python -m bench.http_bench --duration 5 --scenarios list,send
"""
import argparse
import json
import tempfile
import time
from pathlib import Path
from string import Template

from .client import Client
from .report import print_table, write_json
from .seed import Seed, seed
from .server import running_server
from .wrk import DONE_FUNCTION, WrkResult, require_wrk, run_wrk

# The body of the Lua request() function, per scenario.
SCENARIOS = {
    "list": "return list_messages()",
    "convs": "return list_conversations()",
    "send": "return send_message()",
    "mixed": "if math.random() < 0.8 then return list_messages() end\n  return send_message()",
}

LUA_SCRIPT = Template("""\
-- wrk script for the "$scenario" scenario, made by bench/http_bench.py.
-- Each seeded member of each conversation: their token and the conversation.
local members = {
$members
}
-- Each seeded user's token.
local tokens = {
$tokens
}
local sent = 0
-- math.random is not seeded: every run picks the same sequence, so runs compare.

local function headers(token)
  return {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

local function list_messages()
  local member = members[math.random(#members)]
  local path = "/conversations/" .. member.conversation .. "/messages/"
  return wrk.format("GET", path, headers(member.token))
end

local function list_conversations()
  return wrk.format("GET", "/conversations/", headers(tokens[math.random(#tokens)]))
end

local function send_message()
  local member = members[math.random(#members)]
  local path = "/conversations/" .. member.conversation .. "/messages/"
  sent = sent + 1
  local body = '{"content": "wrk message ' .. sent .. '"}'
  return wrk.format("POST", path, headers(member.token), body)
end

request = function()
  $request
end
$done""")


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=100, help="users to seed (100)")
    parser.add_argument("--convs", type=int, default=100, help="conversations to seed (100)")
    parser.add_argument("--history", type=int, default=50, help="messages per conversation (50)")
    parser.add_argument("--duration", type=int, default=8, help="seconds per scenario (8)")
    parser.add_argument("--connections", type=int, default=16, help="open connections (16)")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers (2)")
    parser.add_argument("--scenarios", default=",".join(SCENARIOS),
                        help=f"comma-separated, from: {', '.join(SCENARIOS)} (all)")
    parser.add_argument("--json", metavar="FILE", help="also write the results to FILE")
    args = parser.parse_args(argv)
    args.scenarios = args.scenarios.split(",")
    unknown = set(args.scenarios) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios: {', '.join(sorted(unknown))}")
    return args


def lua_script(scenario: str, seeded: Seed) -> str:
    # json.dumps quotes a string the way Lua reads it too.
    members = [
        f"  {{token = {json.dumps(member.token)}, conversation = {json.dumps(conversation.id)}}},"
        for conversation in seeded.conversations
        for member in conversation.members
    ]
    tokens = [f"  {json.dumps(account.token)}," for account in seeded.accounts]
    return LUA_SCRIPT.substitute(
        scenario=scenario,
        members="\n".join(members),
        tokens="\n".join(tokens),
        request=SCENARIOS[scenario],
        done=DONE_FUNCTION,
    )


def run_scenarios(base: str, seeded: Seed, args: argparse.Namespace) -> dict[str, WrkResult]:
    results = {}
    with tempfile.TemporaryDirectory(prefix="bench-wrk-") as folder:
        for scenario in args.scenarios:
            script = Path(folder) / f"{scenario}.lua"
            script.write_text(lua_script(scenario, seeded))
            print(f"running {scenario} for {args.duration} s ...", flush=True)
            results[scenario] = run_wrk(base, script, args.duration, args.connections)
    return results


def print_results(results: dict[str, WrkResult]) -> None:
    headers = ["scenario", "req/s", "p50 ms", "p99 ms", "non-2xx"]
    rows = [
        [name, result.requests_per_second, result.p50_ms, result.p99_ms, result.non_2xx]
        for name, result in results.items()
    ]
    print_table(headers, rows)
    for name, result in results.items():
        if result.socket_errors:
            print(f"warning: {name} had {result.socket_errors} socket errors (timeouts, resets)")


def main(argv=None) -> None:
    args = parse_args(argv)
    require_wrk()  # before minutes of seeding, not after
    print(f"starting gunicorn with {args.workers} workers on a fresh database ...", flush=True)
    with running_server(args.workers) as base:
        started = time.monotonic()
        seeded = seed(Client(base), args.users, args.convs, args.history)
        print(f"seeded {args.users} users, {args.convs} conversations, "
              f"{args.convs * args.history} messages in {time.monotonic() - started:.1f} s")
        results = run_scenarios(base, seeded, args)
    print()
    print_results(results)
    if args.json:
        settings = {key: value for key, value in vars(args).items() if key != "json"}
        scenarios = {name: result.as_dict() for name, result in results.items()}
        write_json(args.json, {"settings": settings, "results": scenarios})


if __name__ == "__main__":
    main()
