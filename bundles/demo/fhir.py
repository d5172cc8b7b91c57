"""The synthetic patient profiles: FHIR R4 collection Bundles, or the flat records the bundle format also accepts.

Codes and units come from data/terminology.toml; dates are relative to REFERENCE_DATE, never to the clock.
"""

from __future__ import annotations

import random
from datetime import timedelta

from bundles.demo.conversations import case_id, rng, stable_uuid
from bundles.demo.loader import TERMINOLOGY
from bundles.demo.specs import REFERENCE_DATE, CaseSpec

SNOMED = "http://snomed.info/sct"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
_HL7 = "http://terminology.hl7.org/CodeSystem/"
_TEST_DATA_TAG = {"tag": [{"system": f"{_HL7}v3-ActReason", "code": "HTEST", "display": "test health data"}]}
_CATEGORY_DISPLAY = {"vital-signs": "Vital Signs", "laboratory": "Laboratory", "exam": "Exam"}


def _vitals(spec: CaseSpec, draw: random.Random) -> dict:
    values = {
        "hr": draw.randint(62, 86),
        "sbp": draw.randint(112, 136) + (8 if spec.age >= 60 else 0),
        "dbp": draw.randint(68, 84),
        "temp": round(draw.uniform(36.4, 37.1), 1),
        "rr": draw.randint(12, 16),
        "spo2": draw.randint(96, 99),
        "weight": round(draw.uniform(58, 72) if spec.sex == "female" else draw.uniform(72, 92), 1),
    }
    values.update(spec.vitals)
    return values


def _coding(system: str, code: str | None, display: str) -> dict:
    concept: dict = {"text": display}
    if code:
        concept["coding"] = [{"system": system, "code": code, "display": display}]
    return concept


def _loinc(code: str, text: str) -> dict:
    return _coding(LOINC, code, TERMINOLOGY.loinc[code]) | {"text": text}


def _quantity(value: float | int, unit: str) -> dict:
    quantity: dict = {"value": value, "unit": unit}
    if unit in TERMINOLOGY.ucum:
        quantity.update({"system": UCUM, "code": TERMINOLOGY.ucum[unit]})
    return quantity


def _category(code: str) -> list:
    return [{"coding": [{"system": f"{_HL7}observation-category", "code": code, "display": _CATEGORY_DISPLAY[code]}]}]


def _status(code_system: str, code: str) -> dict:
    return {"coding": [{"system": f"{_HL7}{code_system}", "code": code}]}


_PROBLEM_LIST = [
    {"coding": [{"system": f"{_HL7}condition-category", "code": "problem-list-item", "display": "Problem List Item"}]}
]


class _Profile:
    """The entries of one profile Bundle; each resource's id follows from the seed, the case and its position."""

    def __init__(self, seed: int, number: int):
        self.seed, self.key = seed, case_id(number)
        self.entries: list[dict] = []
        self.subject: dict = {}

    def add(self, resource: dict) -> str:
        resource_id = stable_uuid(self.seed, self.key, resource["resourceType"], len(self.entries))
        self.entries.append({"fullUrl": f"urn:uuid:{resource_id}", "resource": {"id": resource_id, **resource}})
        return f"urn:uuid:{resource_id}"

    def observation(self, category: str, code: str | None, name: str, when: str, **value: object) -> None:
        display = TERMINOLOGY.loinc.get(code or "", name)
        self.add(
            {
                "resourceType": "Observation",
                "status": "final",
                "category": _category(category),
                "code": _coding(LOINC, code, display) | {"text": name},
                "subject": self.subject,
                "effectiveDateTime": when,
                **value,
            }
        )


def _add_patient(profile: _Profile, number: int, spec: CaseSpec, draw: random.Random) -> None:
    latest = REFERENCE_DATE.replace(year=REFERENCE_DATE.year - spec.age)
    born = latest - timedelta(days=draw.randint(0, 364))
    patient = profile.add(
        {
            "resourceType": "Patient",
            "meta": _TEST_DATA_TAG,
            "identifier": [{"system": "urn:imcbench:demo:patient", "value": f"demo-{number:04d}"}],
            "name": [{"use": "anonymous", "text": f"Demo patient {number:04d}"}],
            "gender": spec.sex,
            "birthDate": born.isoformat(),
        }
    )
    profile.subject = {"reference": patient}


def _add_history(profile: _Profile, spec: CaseSpec) -> None:
    """Conditions, medicines and allergies (or the coded absence of known allergies)."""
    for code, display, onset in spec.conditions:
        profile.add(
            {
                "resourceType": "Condition",
                "clinicalStatus": _status("condition-clinical", "active"),
                "verificationStatus": _status("condition-ver-status", "confirmed"),
                "category": _PROBLEM_LIST,
                "code": _coding(SNOMED, code, display),
                "subject": profile.subject,
                "onsetDateTime": onset,
            }
        )
    for _drug, product, dosage in spec.medications:
        profile.add(
            {
                "resourceType": "MedicationStatement",
                "status": "completed" if "completed" in dosage else "active",
                "medicationCodeableConcept": {"text": product},
                "subject": profile.subject,
                "dosage": [{"text": dosage}],
            }
        )
    allergy = {
        "resourceType": "AllergyIntolerance",
        "clinicalStatus": _status("allergyintolerance-clinical", "active"),
        "verificationStatus": _status("allergyintolerance-verification", "confirmed"),
    }
    for substance, reaction in spec.allergies:
        profile.add(
            allergy
            | {
                "code": {"text": substance},
                "patient": profile.subject,
                "reaction": [{"manifestation": [{"text": reaction}]}],
            }
        )
    if not spec.allergies:
        none_known = _coding(SNOMED, "716186003", "No known allergy") | {"text": "No known allergies"}
        profile.add(allergy | {"code": none_known, "patient": profile.subject})


def _add_vital_signs(profile: _Profile, spec: CaseSpec, draw: random.Random) -> None:
    seen = (REFERENCE_DATE - timedelta(days=draw.randint(1, 20))).isoformat()
    vitals = _vitals(spec, draw)
    observe = profile.observation
    observe("vital-signs", "8867-4", "Heart rate", seen, valueQuantity=_quantity(vitals["hr"], "beats/min"))
    observe(
        "vital-signs",
        "85354-9",
        "Blood pressure",
        seen,
        component=[
            {"code": _loinc("8480-6", "Systolic"), "valueQuantity": _quantity(vitals["sbp"], "mmHg")},
            {"code": _loinc("8462-4", "Diastolic"), "valueQuantity": _quantity(vitals["dbp"], "mmHg")},
        ],
    )
    observe("vital-signs", "8310-5", "Body temperature", seen, valueQuantity=_quantity(vitals["temp"], "°C"))
    observe("vital-signs", "9279-1", "Respiratory rate", seen, valueQuantity=_quantity(vitals["rr"], "breaths/min"))
    observe("vital-signs", "59408-5", "Oxygen saturation", seen, valueQuantity=_quantity(vitals["spo2"], "%"))
    observe("vital-signs", "29463-7", "Body weight", seen, valueQuantity=_quantity(vitals["weight"], "kg"))


def _add_labs(profile: _Profile, spec: CaseSpec, draw: random.Random) -> None:
    for code, name, value, unit in spec.labs:
        when = (REFERENCE_DATE - timedelta(days=draw.randint(1, 30))).isoformat()
        category = "exam" if "Visual acuity" in name or "Refraction" in name else "laboratory"
        if isinstance(value, str):
            profile.observation(category, code, name, when, valueString=f"{value} {unit}".strip())
        else:
            quantity = _quantity(value, unit) if unit else {"value": value}
            profile.observation(category, code, name, when, valueQuantity=quantity)


def fhir_profile(number: int, spec: CaseSpec, seed: int) -> dict:
    """A FHIR R4 collection Bundle: one Patient plus Conditions, MedicationStatements, AllergyIntolerances and
    Observations (vital signs and labs). Dates are relative to REFERENCE_DATE, so the age is ``spec.age``."""
    draw = rng(seed, "profile", number)
    profile = _Profile(seed, number)
    _add_patient(profile, number, spec, draw)
    _add_history(profile, spec)
    _add_vital_signs(profile, spec, draw)
    _add_labs(profile, spec, draw)
    return {
        "resourceType": "Bundle",
        "id": f"{profile.key}-profile",
        "meta": _TEST_DATA_TAG,
        "type": "collection",
        "timestamp": f"{REFERENCE_DATE.isoformat()}T00:00:00Z",  # the age is counted on this date, not on the clock's
        "entry": profile.entries,
    }


def flat_profile(spec: CaseSpec) -> dict:
    """The flat alternative the bundle format also accepts."""
    return {
        "age": spec.age,
        "sex": spec.sex,
        "history": [f"{display} ({onset[:4]})" for _code, display, onset in spec.conditions],
        "medications": [f"{drug} {dosage}" for drug, _product, dosage in spec.medications],
        "allergies": [f"{substance} ({reaction})" for substance, reaction in spec.allergies]
        or ["No known drug allergies"],
        "observations": {name: f"{value} {unit}".strip() for _code, name, value, unit in spec.labs},
    }
