"""`make demo`: the main job on a laptop, on the embedded default: no AWS account, no network.

Ingests the bundled synthetic Okta events into a fresh local lake with exactly the pipeline
the Lambda runs, then asks the lake the questions the AWS blog asks CloudTrail Lake.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SAMPLES = HERE / "okta-sample-events.jsonl"
LAKE = HERE.parent / "build" / "demo.duckdb"
CLI = str(Path(sys.executable).with_name("auditbridge"))


def auditbridge(*args: str) -> str:
    shown = " ".join(a if " " not in a else repr(a) for a in args)
    print(f"\n$ auditbridge {shown}", flush=True)
    result = subprocess.run([CLI, *args], capture_output=True, text=True, check=False)
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode not in (0, 1):
        sys.exit(result.returncode)
    return result.stdout


def main() -> None:
    LAKE.parent.mkdir(exist_ok=True)
    for stale in LAKE.parent.glob(LAKE.name + "*"):
        stale.unlink()
    auditbridge(
        "ingest",
        str(SAMPLES.relative_to(Path.cwd())) if SAMPLES.is_relative_to(Path.cwd()) else str(SAMPLES),
        "--lake",
        str(LAKE),
    )
    listing = auditbridge("lake", "list", "--lake", str(LAKE))
    store = listing.splitlines()[1].split()[0]
    auditbridge(
        "query",
        "--lake",
        str(LAKE),
        "SELECT element_at(eventData.userIdentity.details, 'alternateId') AS user, COUNT(*) AS events "
        f"FROM {store} WHERE eventData.eventSource = 'okta.system-log-events' GROUP BY 1 ORDER BY 2 DESC",
    )
    auditbridge(
        "query",
        "--lake",
        str(LAKE),
        f"SELECT eventData.eventName AS eventName, COUNT(*) AS events FROM {store} GROUP BY 1 ORDER BY 2 DESC",
    )
    print(f'\nThe lake is {LAKE}; try your own queries with: auditbridge query --lake {LAKE} "SELECT ..."')


if __name__ == "__main__":
    main()
