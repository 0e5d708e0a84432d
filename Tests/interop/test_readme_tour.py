"""The README's 60-second tour, run as written (against the fixture's broker instead of 127.0.0.1:9092)."""

import os
import re
import subprocess
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def tour_commands() -> str:
    """The shell blocks of the README section "A 60-second tour", minus `make run` (the fixture runs the broker)."""
    readme = (REPO_ROOT / "README.md").read_text()
    section = readme.split("## A 60-second tour", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    lines = [line for block in blocks for line in block.splitlines() if not line.startswith("make run")]
    return "\n".join(lines)


def test_readme_tour_runs_as_written(broker, topic_name):
    script = tour_commands()
    assert "rampart topic create" in script and "kcat" in script, "the README lost its tour"
    script = (script.replace("127.0.0.1:9092", broker.bootstrap)
              .replace(".build/release/rampart", str(broker.binary))
              .replace("demo", topic_name))
    result = subprocess.run(["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True,
                            timeout=90, cwd=REPO_ROOT, env={**os.environ, "LC_ALL": "C.UTF-8"})
    assert result.returncode == 0, f"the tour failed:\n{script}\n--- stdout\n{result.stdout}\n--- stderr\n{result.stderr}"
    out = result.stdout
    assert f"Created topic {topic_name}." in out
    assert "PartitionCount: 3" in out
    assert "alice\thello" in out and "bob\tworld" in out
    assert re.search(rf"{re.escape(topic_name)}-readers\s+{re.escape(topic_name)}\s+\d+\s+\d+", out), out
    assert "carol=hi" in out and "dave=there" in out and "alice=hello" in out
