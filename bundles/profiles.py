"""Patient profiles: recognise FHIR R4 bundles and flat records, and normalise both into one summary that the
workspace shows a clinician (age, sex, conditions, medications, allergies, observations).

FHIR R4 resources read: Patient, Condition, MedicationStatement / MedicationRequest, AllergyIntolerance,
Observation (https://hl7.org/fhir/R4/resourcelist.html).
"""

import re
import tomllib
from datetime import date
from functools import cache
from pathlib import Path

FHIR_FORMAT = "fhir-r4"
FLAT_FORMAT = "flat"
SUMMARY_KEYS = ("age", "sex", "conditions", "medications", "allergies", "observations")
UNITS_FILE = Path(__file__).with_name("data") / "units.toml"
SUPERSCRIPTS = str.maketrans("0123456789-", "⁰¹²³⁴⁵⁶⁷⁸⁹⁻")
POWER_OF_TEN = re.compile(r"^10[*^](-?[0-9]+)(.*)$")


class ProfileError(ValueError):
    """A profile that cannot be read; ``field`` is the path inside the profile."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


def profile_format(profile: dict) -> str:
    if profile.get("resourceType") == "Bundle":
        return FHIR_FORMAT
    if "resourceType" in profile:
        raise ProfileError("resourceType", f"{profile['resourceType']!r} is not a FHIR Bundle")
    return FLAT_FORMAT


def summarise_profile(profile: object, *, today: date | None = None) -> tuple[str, dict]:
    """Return ``(format, summary)`` for a FHIR R4 Bundle or a flat dict; raise ProfileError when unreadable.

    A FHIR patient's age is counted on the Bundle's ``timestamp`` (when the record was put together, so the age a
    conversation about it states stays true), else on ``today``."""
    if not isinstance(profile, dict):
        raise ProfileError("profile", "must be a JSON object (a FHIR R4 Bundle or a flat record)")
    fmt = profile_format(profile)
    try:
        if fmt == FHIR_FORMAT:
            summary = _summarise_fhir(profile, _record_date(profile) or today or date.today())
        else:
            summary = _summarise_flat(profile)
    except ProfileError:
        raise
    except (TypeError, AttributeError, ValueError) as error:  # a shape the checks below did not foresee
        raise ProfileError("profile", f"cannot be read ({type(error).__name__}: {error})") from None
    return fmt, summary


def _record_date(bundle: dict) -> date | None:
    """The date of the Bundle's ``timestamp`` (a FHIR instant, e.g. 2026-01-15T00:00:00Z), if it has one."""
    stamp = bundle.get("timestamp")
    if stamp is None:
        return None
    try:
        return date.fromisoformat(str(stamp)[:10])
    except ValueError:
        raise ProfileError("timestamp", f"{stamp!r} is not a FHIR instant (YYYY-MM-DDThh:mm:ssZ)") from None


@cache
def _unit_names() -> dict[str, str]:
    with UNITS_FILE.open("rb") as handle:
        return tomllib.load(handle)["display"]


def display_unit(unit: str) -> str:
    """A unit as a person reads it: a UCUM code (``10*9/L``, ``Cel``) becomes ``×10⁹/L``, ``°C``; anything else is
    kept as written. Codes and their printed forms: data/units.toml (UCUM, https://ucum.org/ucum)."""
    if unit in _unit_names():
        return _unit_names()[unit]
    power = POWER_OF_TEN.match(unit)
    if power:
        return f"×10{power.group(1).translate(SUPERSCRIPTS)}{display_unit(power.group(2)) if power.group(2) else ''}"
    return unit


def _list(container: dict, key: str, where: str) -> list:
    """The list under ``key`` (absent or null: empty); anything else is a ProfileError naming its path."""
    value = container.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise ProfileError(f"{where}.{key}", f"must be a list, not {type(value).__name__}")
    return value


def _text_of(concept: object, where: str = "") -> str:
    """The human text of a FHIR CodeableConcept (text, else first coding's display or code)."""
    if not isinstance(concept, dict):
        return ""
    if concept.get("text"):
        return str(concept["text"])
    for coding in _list(concept, "coding", where or "code"):
        if isinstance(coding, dict) and (coding.get("display") or coding.get("code")):
            return str(coding.get("display") or coding.get("code"))
    return ""


def _age_on(birth_date: str, today: date) -> int:
    try:
        year, month, day = (int(part) for part in (birth_date.split("-") + ["1", "1"])[:3])
        born = date(year, month, day)
    except (ValueError, TypeError):
        raise ProfileError("Patient.birthDate", f"{birth_date!r} is not a date (YYYY, YYYY-MM or YYYY-MM-DD)") from None
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _observation_value(resource: dict, where: str) -> str:
    if isinstance(resource.get("valueQuantity"), dict):
        quantity = resource["valueQuantity"]
        unit = display_unit(str(quantity.get("unit") or quantity.get("code") or ""))
        return f"{quantity.get('value', '')} {unit}".strip()
    for key in ("valueString", "valueInteger", "valueBoolean", "valueDateTime"):
        if key in resource:
            return str(resource[key])
    if "valueCodeableConcept" in resource:
        return _text_of(resource["valueCodeableConcept"], f"{where}.valueCodeableConcept")
    components = [
        f"{_text_of(part.get('code'), f'{where}.component[{index}].code')} "
        f"{_observation_value(part, f'{where}.component[{index}]')}".strip()
        for index, part in enumerate(_list(resource, "component", where))
        if isinstance(part, dict)
    ]
    return "; ".join(components)


def _summarise_fhir(bundle: dict, today: date) -> dict:
    entries = bundle.get("entry")
    if not isinstance(entries, list):
        raise ProfileError("entry", "a FHIR Bundle needs a list of entries")
    summary: dict = {
        "age": None,
        "sex": None,
        "conditions": [],
        "medications": [],
        "allergies": [],
        "observations": [],
    }
    patients = 0
    for index, entry in enumerate(entries):
        resource = entry.get("resource") if isinstance(entry, dict) else None
        if not isinstance(resource, dict) or "resourceType" not in resource:
            raise ProfileError(f"entry[{index}].resource", "missing or has no resourceType")
        kind = resource["resourceType"]
        where = f"entry[{index}].resource"
        if kind == "Patient":
            patients += 1
            summary["sex"] = resource.get("gender")
            if resource.get("birthDate"):
                summary["age"] = _age_on(str(resource["birthDate"]), today)
        elif kind == "Condition":
            text = _text_of(resource.get("code"), f"{where}.code")
            status = _text_of(resource.get("clinicalStatus"), f"{where}.clinicalStatus")
            summary["conditions"].append(f"{text} ({status})" if status and status != "active" else text)
        elif kind in ("MedicationStatement", "MedicationRequest"):
            name = _text_of(resource.get("medicationCodeableConcept"), f"{where}.medicationCodeableConcept")
            dosage = [
                d.get("text")
                for d in _list(resource, "dosage", where) or _list(resource, "dosageInstruction", where)
                if isinstance(d, dict) and d.get("text")
            ]
            summary["medications"].append(f"{name} — {dosage[0]}" if dosage else name)
        elif kind == "AllergyIntolerance":
            text = _text_of(resource.get("code"), f"{where}.code")
            reactions = [
                _text_of(m, f"{where}.reaction[{r_index}].manifestation")
                for r_index, r in enumerate(_list(resource, "reaction", where))
                if isinstance(r, dict)
                for m in _list(r, "manifestation", f"{where}.reaction[{r_index}]")
            ]
            summary["allergies"].append(f"{text} ({', '.join(reactions)})" if reactions else text)
        elif kind == "Observation":
            summary["observations"].append(
                {
                    "name": _text_of(resource.get("code"), f"{where}.code"),
                    "value": _observation_value(resource, where),
                    "date": resource.get("effectiveDateTime", ""),
                }
            )
    if patients != 1:
        raise ProfileError("entry", f"a FHIR profile needs exactly one Patient resource, found {patients}")
    for key in ("conditions", "medications", "allergies"):
        summary[key] = [item for item in summary[key] if item]
    return summary


def _as_list(value: object, field: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise ProfileError(field, "must be a list or a string")
    return value


def _summarise_flat(profile: dict) -> dict:
    age = profile.get("age")
    if age is not None and (isinstance(age, bool) or not isinstance(age, int | float) or not 0 <= age <= 130):
        raise ProfileError("age", f"{age!r} is not an age in years (0–130)")
    observations = []
    raw_observations = profile.get("observations") or {}
    if isinstance(raw_observations, dict):
        observations = [{"name": str(k), "value": str(v), "date": ""} for k, v in raw_observations.items()]
    else:
        for item in _as_list(raw_observations, "observations"):
            if isinstance(item, dict):
                observations.append(
                    {
                        "name": str(item.get("name", "")),
                        "value": str(item.get("value", "")),
                        "date": str(item.get("date", "")),
                    }
                )
            else:
                observations.append({"name": str(item), "value": "", "date": ""})
    conditions = _as_list(profile.get("conditions", profile.get("history")), "history")
    return {
        "age": int(age) if age is not None else None,
        "sex": profile.get("sex"),
        "conditions": [str(item) for item in conditions],
        "medications": [str(item) for item in _as_list(profile.get("medications"), "medications")],
        "allergies": [str(item) for item in _as_list(profile.get("allergies"), "allergies")],
        "observations": observations,
    }
