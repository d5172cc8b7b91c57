"""A patient profile's normalised summary as the plain text that judge and model prompts carry."""


def format_profile(summary: dict | None) -> str:
    if not summary:
        return "(no patient record)"
    lines = []
    if summary.get("age") is not None or summary.get("sex"):
        lines.append(f"- Age {summary.get('age', 'unknown')}, sex {summary.get('sex') or 'unknown'}")
    for label, name in (("Conditions", "conditions"), ("Medications", "medications"), ("Allergies", "allergies")):
        values = summary.get(name) or []
        lines.append(f"- {label}: {', '.join(_item(v) for v in values) if values else 'none recorded'}")
    observations = summary.get("observations") or []
    if observations:
        lines.append("- Observations: " + "; ".join(_item(v) for v in observations))
    return "\n".join(lines)


def _item(value) -> str:
    if isinstance(value, dict):
        parts = [str(value.get(k)) for k in ("name", "display", "text", "value", "unit", "date") if value.get(k)]
        return " ".join(parts) if parts else ", ".join(f"{k}={v}" for k, v in value.items())
    return str(value)
