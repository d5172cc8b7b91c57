"""Estimate: what generating the paper's conversations costs against real providers' prices.

8 models under test × 3 conditions × the demo's 25 cases = 600 conversations, each of up to ``--max-turns``
exchanges with a patient simulator. Token counts are measured from the prompts the app would send for each demo
case (persona, system prompt with or without the record, images at 1,600 tokens each) plus assumed turn lengths
(``generation.estimate``); prices come from ``generation/data/provider_prices.json`` (date, sources and confidence
per price there). It is an upper bound: every conversation is assumed to run to the turn limit. Nothing is
called and no database is touched.

    .venv/bin/python bench/generation_cost.py [--max-turns 4] [--patient claude-haiku-4.5]
"""

import argparse
import json
import os
import sys
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
PRICES = ROOT / "generation" / "data" / "provider_prices.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--max-turns", type=int, default=4)
    options = parser.parse_args()

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "imcbench_site.settings")
    import django

    django.setup()
    from bundles.demo import builder as demo
    from bundles.profiles import summarise_profile
    from generation import dialogue, estimate, prompts

    table = json.loads(PRICES.read_text())
    snapshots = {"patient": prompts.load(prompts.PATIENT_PROMPT).snapshot()}
    snapshots["model"] = prompts.load(prompts.MODEL_PROMPT).snapshot()
    patient_price = table["patient_simulator"]
    patient_caller = dialogue.Caller(patient_price["provider"], patient_price["model_id"], {"max_tokens": 300})
    cases = demo.build_cases(2026)
    planned = []
    for model in table["models"]:
        caller = dialogue.Caller(model["provider"], model["model_id"], {"max_tokens": 800})
        for record in cases:
            case = SimpleNamespace(
                key=record["id"],
                title=record["title"],
                specialty=record["specialty"],
                diagnosis=record["diagnosis"],
                extra={},
            )
            images = [SimpleNamespace(caption=i["caption"], modality=i["modality"]) for i in record["images"]]
            summary = summarise_profile(record["profile"])[1]
            for condition in dialogue.SENDS_IMAGE:
                patient, model_side = dialogue.measure_sides(
                    patient_caller=patient_caller,
                    model_caller=caller,
                    prompts=snapshots,
                    case=case,
                    summary=summary,
                    images=images,
                    condition=condition,
                    patient_sees_image=True,
                )
                planned.append(estimate.Planned(record["id"], model["key"], patient, model_side))
    patient, per_model = estimate.estimate_conversations(planned, max_turns=options.max_turns)

    print(
        f"{len(table['models'])} models × 3 conditions × {len(cases)} demo cases = {len(planned)} conversations, "
        f"up to {options.max_turns} exchanges each (prices recorded {table['recorded']})"
    )
    print(f"{'model':<27} {'price in/out':>14} {'calls':>7} {'input tok':>12} {'output tok':>11} {'USD':>9}  price")
    total = Decimal("0")
    rows = [(m, per_model[m["key"]]) for m in table["models"]] + [(patient_price, patient)]
    for price, totals in rows:
        cost = estimate.money(totals.input_tokens, totals.output_tokens, price["input"], price["output"])
        total += cost
        label = price["key"] + (" (patient)" if price is patient_price else "")
        print(
            f"{label:<27} {price['input'] + '/' + price['output']:>14} {totals.calls:>7,} {totals.input_tokens:>12,} "
            f"{totals.output_tokens:>11,} {cost:>9.2f}  {price['confidence']}"
        )
    calls = patient.calls + sum(t.calls for t in per_model.values())
    print(f"{'total':<27} {'':>14} {calls:>7,} {'':>12} {'':>11} {total:>9.2f}")
    print(
        f"upper bound; tokens estimated (4 characters a token, {estimate.IMAGE_TOKENS:,} an image, "
        f"{estimate.PATIENT_TURN_TOKENS} a patient message, {estimate.MODEL_TURN_TOKENS} a reply); "
        "one opening patient message a case; see generation/data/provider_prices.json for sources"
    )


if __name__ == "__main__":
    main()
