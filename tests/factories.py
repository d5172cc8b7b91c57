"""factory_boy factories for the benchmark's data."""

import factory
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group

from annotation.models import Case, Conversation, ModelUnderTest, PatientProfile, Turn


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


def scored_campaign(*, key: str, conversations, clinicians, score_of):
    """A locked campaign in which every clinician has submitted ``score_of(conversation)`` (a dict by dimension)
    for every conversation: the clinician side of calibration tests."""
    from annotation import services
    from annotation.models import Annotation, Rubric

    campaign = services.create_campaign(
        key=key,
        name=key.title(),
        rubric=Rubric.objects.get(is_default=True),
        conversations=conversations,
        clinicians=clinicians,
        overlap=len(clinicians),
        state="locked",
    )
    Annotation.objects.bulk_create(
        Annotation(
            conversation=conversation,
            annotator=clinician,
            rubric=campaign.rubric,
            campaign=campaign,
            status="submitted",
            scores=score_of(conversation),
        )
        for conversation in conversations
        for clinician in clinicians
    )
    return campaign
