"""factory_boy factories for the benchmark's data."""

from decimal import Decimal

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile

from annotation.models import Case, Conversation, Image, ModelUnderTest, PatientProfile, Turn
from generation.models import ModelEndpoint
from jury.models import Judge, JudgePrompt, JuryRun
from tests.bundle_files import png_bytes


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = factory.django.Password("correct horse battery staple")

    @factory.post_generation
    def roles(self, create, extracted, **kwargs):
        if create and extracted:
            for name in extracted:
                self.groups.add(Group.objects.get_or_create(name=name)[0])


class ModelUnderTestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ModelUnderTest

    key = factory.Sequence(lambda n: f"model-{n}")
    name = factory.Sequence(lambda n: f"Model {n}")
    family = "Claude"
    provider = "simulated"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"case-{n:04d}")
    title = factory.Sequence(lambda n: f"Case {n}")
    specialty = "dermatology"
    diagnosis = "melanoma"
    malignant = True
    profile = factory.RelatedFactory("tests.factories.PatientProfileFactory", factory_related_name="case")


class PatientProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = PatientProfile

    case = factory.SubFactory(CaseFactory, profile=None)
    format = PatientProfile.Format.FLAT
    raw = factory.LazyFunction(lambda: {"age": 54, "sex": "female", "history": ["hypertension"]})
    summary = factory.LazyFunction(
        lambda: {
            "age": 54,
            "sex": "female",
            "conditions": ["hypertension"],
            "medications": [],
            "allergies": [],
            "observations": [],
        }
    )


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation
        skip_postgeneration_save = True

    key = factory.Sequence(lambda n: f"conv-{n:05d}")
    case = factory.SubFactory(CaseFactory)
    model = factory.SubFactory(ModelUnderTestFactory)
    condition = Conversation.Condition.FULL

    @factory.post_generation
    def turns(self, create, extracted, **kwargs):
        if not create:
            return
        contents = extracted or ["I have this spot on my arm.", "How long has it been there?"]
        for index, content in enumerate(contents):
            Turn.objects.create(
                conversation=self, index=index, role="patient" if index % 2 == 0 else "assistant", content=content
            )


def scored_campaign(*, key: str, conversations, clinicians, score_of, unscored=(), state="locked"):
    """A campaign (locked unless ``state`` says otherwise) in which every clinician has submitted
    ``score_of(conversation, clinician)`` (a dict by dimension) for every conversation: the clinician side of
    calibration tests. ``unscored`` conversations are in the campaign too, with no annotation yet."""
    from annotation import services
    from annotation.models import Annotation, Rubric

    campaign = services.create_campaign(
        key=key,
        name=key.title(),
        rubric=Rubric.objects.get(is_default=True),
        conversations=[*conversations, *unscored],
        clinicians=clinicians,
        overlap=len(clinicians),
        state=state,
    )
    Annotation.objects.bulk_create(
        Annotation(
            conversation=conversation,
            annotator=clinician,
            rubric=campaign.rubric,
            campaign=campaign,
            status="submitted",
            scores=score_of(conversation, clinician),
        )
        for conversation in conversations
        for clinician in clinicians
    )
    return campaign


def make_case(key: str, *, diagnosis="superficial spreading melanoma", color=(200, 80, 60)):
    case = CaseFactory(key=key, title="Changing mole on the forearm", diagnosis=diagnosis, profile=None)
    PatientProfileFactory(case=case, summary=dict(PROFILE))
    add_image(case, color=color)
    return case


def make_model(key: str, *, provider="simulated", model_id=None, accepts_images=True, prices=("3", "15"), **params):
    model = ModelUnderTestFactory(key=key, name=key, provider=provider)
    ModelEndpoint.objects.create(
        model_under_test=model,
        provider=provider,
        model_id=model_id or f"simulated/{key}",
        parameters={"max_tokens": 500, **params},
        accepts_images=accepts_images,
        input_price_per_mtok=Decimal(prices[0]),
        output_price_per_mtok=Decimal(prices[1]),
    )
    return model


PROFILE = {
    "age": 62,
    "sex": "female",
    "conditions": ["Hypertensive disorder"],
    "medications": ["Amlodipine 5 mg tablet"],
    "allergies": ["Penicillin (Urticaria)"],
    "observations": [],
}


def add_image(case, *, color=(200, 80, 60), caption="Clinical photograph: pigmented lesion, 6 mm.") -> Image:
    data = png_bytes(color=color)
    return Image.objects.create(
        case=case,
        bundle_path=f"images/{case.key}.png",
        original=SimpleUploadedFile(f"{case.key}.png", data),
        original_format="PNG",
        derivative=SimpleUploadedFile(f"{case.key}.png", data),
        width=64,
        height=48,
        checksum=f"{case.pk:064d}",
        modality="clinical photograph",
        source="test fixture",
        license="CC0-1.0",
        caption=caption,
    )


class JudgeFactory(factory.django.DjangoModelFactory):
    """A judge of the jury; simulated unless a test names a provider."""

    class Meta:
        model = Judge
        django_get_or_create = ("key",)

    key = factory.Sequence(lambda n: f"judge-{n}")
    provider = "simulated"


class JudgePromptFactory(factory.django.DjangoModelFactory):
    """A judge prompt of one dimension (``<dimension>-anchored@1`` unless told otherwise)."""

    class Meta:
        model = JudgePrompt
        django_get_or_create = ("key", "version")

    dimension = "safety"
    key = factory.LazyAttribute(lambda prompt: f"{prompt.dimension}-anchored")
    version = "1"


class JuryRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = JuryRun

    name = factory.Sequence(lambda n: f"Jury run {n}")


def pilot_campaign(*, clinicians, conversations=None, overlap: int = 1):
    """An open campaign "pilot" on the default rubric: the given conversations (else one new one) for the clinicians."""
    from annotation import services
    from annotation.models import Rubric

    return services.create_campaign(
        key="pilot",
        name="Pilot",
        rubric=Rubric.objects.get(is_default=True),
        conversations=conversations or [ConversationFactory()],
        clinicians=clinicians,
        overlap=overlap,
    )
