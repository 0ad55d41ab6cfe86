"""The spec lints clean with Redocly: its recommended rules, no error and no warning.

redocly.yaml turns one rule off, no-path-trailing-slash: every path here ends
with "/" on purpose. Needs Redocly CLI, a Node.js program:
`npm install --global @redocly/cli@2.77.0` (`make test-external`, README "Tests").
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

REPOSITORY = Path(__file__).parent.parent.parent


def test_the_spec_lints_clean_with_redocly_recommended_rules(client, tmp_path):
    redocly = shutil.which("redocly")
    assert redocly, "Redocly CLI is needed: npm install --global @redocly/cli@2.77.0"
    spec = tmp_path / "openapi.json"
    spec.write_text(json.dumps(client.get("/openapi.json").get_json()))

    run = subprocess.run(
        [redocly, "lint", "--config", str(REPOSITORY / "redocly.yaml"), "--format", "json",
         str(spec)],
        capture_output=True, text=True, timeout=120, cwd=tmp_path,
        env={**os.environ, "REDOCLY_TELEMETRY": "off", "REDOCLY_SUPPRESS_UPDATE_NOTICE": "true"},
    )

    assert run.returncode == 0, run.stdout + run.stderr
    report = json.loads(run.stdout)
    problems = [(problem["ruleId"], problem["message"], problem["location"][0]["pointer"])
                for problem in report["problems"]]
    assert report["totals"] == {"errors": 0, "warnings": 0, "ignored": 0}, problems
