"""The whole loop through the IMCBench Studio API, with `requests` only: import → jury run → poll → calibrate →
publish a snapshot → read the leaderboard. See docs/api.md.

    IMCBENCH_TOKEN=… python docs/examples/api_loop.py --url http://127.0.0.1:8000 --campaign demo-calibration

The chat log's conversations are imported, then judged together with the conversations the campaign's clinicians
scored (the calibration needs the jury's scores on those), by the judges and prompt versions named (default:
every active judge and every prompt). Every POST carries a new Idempotency-Key, so a POST retried after a
dropped connection starts nothing twice.
"""

import argparse
import json
import os
import sys
import time
import uuid
from pathlib import Path

import requests

HERE = Path(__file__).resolve().parent


class Api:
    def __init__(self, url: str, token: str, timeout: float):
        self.url, self.timeout = url.rstrip("/"), timeout
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Token {token}"

    def get(self, path_or_url: str, **params) -> dict:
        url = path_or_url if path_or_url.startswith("http") else f"{self.url}{path_or_url}"
        response = self.session.get(url, params=params, timeout=self.timeout)
        response.raise_for_status()
        return response.json()

    def post(self, path: str, *, expect: tuple[int, ...], **kwargs) -> dict:
        """POST with a new idempotency key, retried once with the same key if the connection drops."""
        headers = {"Idempotency-Key": str(uuid.uuid4())}
        for attempt in (1, 2):
            try:
                response = self.session.post(f"{self.url}{path}", headers=headers, timeout=self.timeout, **kwargs)
                break
            except requests.ConnectionError:
                if attempt == 2:
                    raise
        if response.status_code not in expect:
            sys.exit(f"POST {path}: {response.status_code} {response.text}")
        return response.json()

    def every(self, path: str, **params) -> list[dict]:
        """Every item of a cursor-paginated list."""
        page, items = self.get(path, page_size=1000, **params), []
        while True:
            items += page["results"]
            if not page["next"]:
                return items
            page = self.get(page["next"])

    def wait(self, url: str, *, done, every: float = 1.0, limit: float = 3600) -> dict:
        started = time.monotonic()
        while not done(state := self.get(url)):
            if time.monotonic() - started > limit:
                sys.exit(f"{url}: still not done after {limit:.0f} s: {state}")
            time.sleep(every)
        return state


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--token", default=os.environ.get("IMCBENCH_TOKEN"), help="default: $IMCBENCH_TOKEN")
    parser.add_argument("--campaign", default="demo-calibration")
    parser.add_argument("--chat-log", type=Path, default=HERE / "chat-log.jsonl")
    parser.add_argument("--judges", help="comma-separated judge ids (default: every active judge)")
    parser.add_argument("--prompts", help="comma-separated key@version (default: every prompt)")
    parser.add_argument("--timeout", type=float, default=600, help="seconds for one HTTP request")
    args = parser.parse_args()
    if not args.token:
        sys.exit("No token: make one on the Account page (/account/) and pass --token or set IMCBENCH_TOKEN")
    api = Api(args.url, args.token, args.timeout)

    # 1. Import the chat log: 202 at once, then follow its status URL until the background import ends.
    with args.chat_log.open("rb") as handle:
        queued = api.post("/api/imports/", expect=(202,), files={"file": handle}, data={"format": "openai-chat"})
    imported = api.wait(queued["status_url"], done=lambda state: state["done"])
    if imported["state"] not in ("imported", "unchanged"):
        sys.exit(f"import {imported['state']}:\n" + "\n".join(imported["problems"] or [imported["error"]]))
    print(f"import: {imported['summary']}")

    # 2. The conversations to judge: those just imported, and those the campaign's clinicians scored.
    models = {json.loads(line)["model"] for line in args.chat_log.read_text().splitlines() if line.strip()}
    keys = {c["id"] for model in sorted(models) for c in api.every("/api/conversations/", model=model)}
    keys |= {a["conversation"] for a in api.every("/api/annotations/", campaign=args.campaign)}
    judges = args.judges.split(",") if args.judges else [j["id"] for j in api.every("/api/judges/") if j["active"]]
    prompts = args.prompts.split(",") if args.prompts else [p["id"] for p in api.every("/api/prompts/")]

    # 3. Create and launch the jury run, then poll its progress until it stops.
    run = api.post(
        "/api/runs/",
        expect=(201,),
        json={"name": "API loop", "judges": judges, "prompts": prompts, "selection": {"keys": sorted(keys)}},
    )
    print(f"run {run['id']}: {run['progress']['total']} items ({len(keys)} conversations × {len(judges)} judges)")
    run = api.wait(run["status_url"], done=lambda state: state["status"] not in ("draft", "running"), every=2)
    done, failed, cost = run["progress"]["done"], run["progress"]["failed"], float(run["progress"]["cost"])
    print(f"run {run['id']} {run['status']}: {done} done, {failed} failed, ${cost:.4f}")
    if run["status"] not in ("completed", "completed_with_failures"):
        sys.exit(f"the run stopped: {run['message']}")

    # 4. Fit and save the calibration (201: a new version; 200: the same inputs were calibrated before).
    calibration = api.post(f"/api/campaigns/{args.campaign}/calibrations/", expect=(200, 201), json={})
    print(f"calibration v{calibration['version']}: {calibration['methods']}")

    # 5. Publish the leaderboard as a frozen snapshot, and read it back.
    snapshot = api.post(f"/api/campaigns/{args.campaign}/snapshots/", expect=(200, 201))
    board = api.get(snapshot["url"])
    print(f"snapshot {board['id']} ({board['content_hash'][:12]}): {board['n_conversations']} conversations")
    for row in board["payload"]["models"]:
        rank = f"{row['rank']:.0f}" if row["rank"] is not None else "–"  # no rank: too few clinician scores
        print(f"  {rank}. {row['name']} ({row['key']})")


if __name__ == "__main__":
    main()
