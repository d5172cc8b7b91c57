"""A profile's summary shows units as people read them, and a FHIR patient's age as of the record's date."""

from datetime import date

import pytest

from bundles.profiles import ProfileError, display_unit, summarise_profile


@pytest.mark.parametrize(
    ("code", "shown"),
    [("10*9/L", "×10⁹/L"), ("10^12/L", "×10¹²/L"), ("Cel", "°C"), ("mm[Hg]", "mmHg"), ("mmol/L", "mmol/L")],
)
def test_a_ucum_code_is_shown_in_its_printed_form(code, shown):
    assert display_unit(code) == shown


def patient_bundle(**extra) -> dict:
    patient = {"resource": {"resourceType": "Patient", "gender": "female", "birthDate": "2006-06-01"}}
    return {"resourceType": "Bundle", "type": "collection", "entry": [patient], **extra}


def test_the_age_is_counted_on_the_bundles_timestamp_not_on_the_clock():
    _fmt, dated = summarise_profile(patient_bundle(timestamp="2026-01-15T00:00:00Z"), today=date(2030, 1, 1))
    _fmt, undated = summarise_profile(patient_bundle(), today=date(2030, 1, 1))

    assert dated["age"] == 19 and undated["age"] == 23


def test_a_timestamp_that_is_not_an_instant_is_refused_by_its_field():
    with pytest.raises(ProfileError) as caught:
        summarise_profile(patient_bundle(timestamp="soon"))

    assert caught.value.field == "timestamp"
