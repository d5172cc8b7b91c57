"""Chat logs (OpenAI format) and Hugging Face datasets imported as bundles: images, system prompts, mapping,
problems named by chat line, nothing changed on rejection, the same image stored once, and the round trip."""

import json

import pytest
from django.core.management import CommandError, call_command

from annotation.models import Case, Conversation, Image, ModelUnderTest, Turn
from bundles.adapters import import_hf_dataset, import_openai_chat
from bundles.adapters.chat_export import export_chat
from bundles.adapters.mapping import load_mapping
from bundles.problems import BundleInvalid
from tests.bundle_files import chat_lines, png_bytes, write_chat
from tests.factories import make_case

pytestmark = pytest.mark.django_db


def counts() -> dict:
    return {t.__name__: t.objects.count() for t in (Case, Image, ModelUnderTest, Conversation, Turn)}


def media_files(root) -> list:
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def test_chat_log_imports_images_system_prompts_and_metadata(tmp_path, media_in_tmp):
    report = import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", chat_lines()), mapping=load_mapping())
    assert report.created["conversations"] == 3 and report.created["cases"] == 2
    first = Conversation.objects.get(case__key="chat-case-1", condition="full")
    assert first.extra == {
        "system_prompts": ["You are a careful dermatology assistant."],
        "metadata": {"source_run": 7},
    }
    turns = list(first.turns.order_by("index"))
    assert [t.role for t in turns] == ["patient", "assistant"]
    assert turns[0].content == "This mole has grown. Should I worry?"
    image = Image.objects.get(case__key="chat-case-1")
    assert turns[0].extra == {"images": [image.checksum]}
    assert Case.objects.get(key="chat-case-1").diagnosis == "melanoma"
    assert ModelUnderTest.objects.get(key="chat-model").family == "GPT"
    assert Turn.objects.get(conversation__case__key="chat-case-2", index=0).content == "[image]"


def test_same_image_in_many_conversations_is_stored_once(tmp_path, media_in_tmp):
    import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", chat_lines()), mapping=load_mapping())
    checksums = set(Image.objects.values_list("checksum", flat=True))
    assert len(checksums) == 1 and Image.objects.count() == 2  # one image row per case, one stored file
    originals = [p for p in media_files(media_in_tmp) if "original" in p.parts]
    assert len(originals) == 1


def test_a_bad_line_is_named_and_nothing_changes(tmp_path, media_in_tmp):
    lines = chat_lines()
    lines[2]["messages"][1]["content"] = ""
    lines[1]["messages"][0]["role"] = "tool"
    path = write_chat(tmp_path / "chat.jsonl", lines, raw_lines={2: "{not json"})
    with pytest.raises(BundleInvalid) as caught:
        import_openai_chat(path=path, mapping=load_mapping())
    problems = [str(p) for p in caught.value.problems]
    assert "chat.jsonl:2: invalid JSON: Expecting property name enclosed in double quotes (column 2)" in problems
    assert any(p.startswith("chat.jsonl:3: messages[0].role: 'tool' is not one of") for p in problems), problems
    assert counts() == {k: 0 for k in counts()} and media_files(media_in_tmp) == []


def test_bundle_problems_are_reported_against_the_chat_message(tmp_path, media_in_tmp):
    lines = chat_lines()
    lines[2]["messages"][1]["content"] = "   "
    with pytest.raises(BundleInvalid) as caught:
        import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", lines), mapping=load_mapping())
    assert [str(p) for p in caught.value.problems] == ["chat.jsonl:3: messages[1].content: must not be empty"]
    assert counts()["Conversation"] == 0


def test_a_corrupt_image_is_named_by_its_message_part(tmp_path, media_in_tmp):
    with pytest.raises(BundleInvalid) as caught:
        import_openai_chat(
            path=write_chat(tmp_path / "chat.jsonl", chat_lines(image=b"not an image at all")), mapping=load_mapping()
        )
    problems = [str(p) for p in caught.value.problems]
    assert all(p.startswith("chat.jsonl:1: messages[1].content[1].image_url.url: ") for p in problems), problems
    assert counts()["Case"] == 0 and media_files(media_in_tmp) == []


def test_image_paths_inside_the_upload_and_mapping_file(tmp_path, media_in_tmp):
    upload = tmp_path / "upload"
    (upload / "img").mkdir(parents=True)
    (upload / "img" / "lesion.png").write_bytes(png_bytes(color=(10, 200, 30)))
    line = {
        "conversation": [],
        "messages": [
            {"role": "human", "content": [{"type": "image_url", "image_url": {"url": "img/lesion.png"}}]},
            {"role": "gpt", "content": "A regular, symmetric naevus."},
        ],
        "meta": {"case_id": "mapped-case", "llm": "mapped-model", "arm": "full", "labels": {"rare": True}},
    }
    write_chat(upload / "log.jsonl", [line])
    mapping = tmp_path / "mapping.toml"
    mapping.write_text(
        '[fields]\ncase = "meta.case_id"\nmodel = "meta.llm"\ncondition = "meta.arm"\ntags = "meta.labels"\n'
        '[roles]\nhuman = "patient"\ngpt = "assistant"\n[defaults]\nfamily = "Mapped"\n'
    )
    call_command("import_bundle", str(upload), "--from", "openai-chat", "--mapping", str(mapping))
    conversation = Conversation.objects.get()
    assert (conversation.case.key, conversation.model.key, conversation.condition) == (
        "mapped-case",
        "mapped-model",
        "full",
    )
    assert conversation.case.rare and conversation.model.family == "Mapped"
    assert conversation.extra == {"metadata": {"conversation": []}}


def test_command_options_name_the_keys_and_an_existing_case_is_reused(tmp_path, media_in_tmp):
    case = make_case("existing-case")
    line = {"messages": [{"role": "user", "content": "Hello"}, {"role": "assistant", "content": "Hi"}]}
    line |= {"patient_case": case.key, "llm": "gpt-x"}
    path = write_chat(tmp_path / "chat.jsonl", [line])
    call_command(
        "import_bundle", str(path), "--from", "openai-chat", "--case-key", "patient_case", "--model-key", "llm"
    )
    assert Conversation.objects.get().case == case
    with pytest.raises(CommandError, match="need --from"):
        call_command("import_bundle", str(path), "--case-key", "x")


def test_a_new_case_without_any_image_is_refused(tmp_path, media_in_tmp):
    lines = [chat_lines()[2]]
    with pytest.raises(BundleInvalid) as caught:
        import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", lines), mapping=load_mapping())
    assert "chat.jsonl:1: messages: case 'chat-case-1' is new and none of its messages carries an image" in str(
        caught.value
    )


def test_round_trip_chat_import_export_import_changes_nothing(tmp_path, media_in_tmp):
    mapping = load_mapping()
    import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", chat_lines()), mapping=mapping)
    assert import_openai_chat(path=tmp_path / "chat.jsonl", mapping=mapping).changed_nothing
    before = counts()
    call_command("export_bundle", "--format", "openai-chat", "--out", str(tmp_path / "out.jsonl"))
    report = import_openai_chat(path=tmp_path / "out.jsonl", mapping=mapping)
    assert report.changed_nothing and counts() == before
    exported = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    first = next(line for line in exported if line["messages"][0]["role"] == "system")
    assert first["messages"][0] == {"role": "system", "content": "You are a careful dermatology assistant."}
    assert first["messages"][1]["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    with pytest.raises(FileExistsError):
        export_chat(out=tmp_path / "out.jsonl")


def test_export_imports_into_an_empty_database_as_the_same_data(tmp_path, media_in_tmp, django_db_blocker):
    import_openai_chat(path=write_chat(tmp_path / "chat.jsonl", chat_lines()), mapping=load_mapping())
    export_chat(out=tmp_path / "out.jsonl")
    hashes = sorted(Conversation.objects.values_list("key", "content_hash"))
    Conversation.objects.all().delete()
    Case.objects.all().delete()
    ModelUnderTest.objects.all().delete()
    import_openai_chat(path=tmp_path / "out.jsonl", mapping=load_mapping())
    assert sorted(Conversation.objects.values_list("key", "content_hash")) == hashes


def test_hugging_face_dataset_directory_and_parquet(tmp_path, media_in_tmp):
    datasets = pytest.importorskip("datasets")
    lines = chat_lines()
    for line in lines:  # Arrow needs one type per column: every content a list of parts
        for message in line["messages"]:
            if isinstance(message["content"], str):
                message["content"] = [{"type": "text", "text": message["content"]}]
        line.setdefault("metadata", {})
        line.setdefault("condition", "full")
    datasets.Dataset.from_list(lines[:2]).save_to_disk(str(tmp_path / "saved"))
    report = import_hf_dataset(path=tmp_path / "saved", mapping=load_mapping())
    assert report.created["conversations"] == 2
    datasets.Dataset.from_list(lines).to_parquet(str(tmp_path / "train.parquet"))
    report = import_hf_dataset(path=tmp_path / "train.parquet", mapping=load_mapping())
    assert report.created.get("conversations") == 1 and report.unchanged["conversations"] == 2
    lines[0]["messages"][1]["role"] = "robot"
    datasets.Dataset.from_list(lines).to_parquet(str(tmp_path / "bad.parquet"))
    with pytest.raises(BundleInvalid) as caught:
        import_hf_dataset(path=tmp_path / "bad.parquet", mapping=load_mapping())
    assert str(caught.value.problems[0]).startswith("bad.parquet:1: messages[1].role: 'robot' is not one of")


def test_mapping_file_problems(tmp_path):
    bad = tmp_path / "mapping.json"
    bad.write_text(json.dumps({"fields": {"colour": "x"}, "roles": {"bot": "doctor"}}))
    with pytest.raises(BundleInvalid) as caught:
        load_mapping(path=bad)
    assert [str(p) for p in caught.value.problems] == [
        "mapping.json: fields.colour: is not one of id, case, model, condition, title, diagnosis, tags, model_name, "
        "family, provider",
        "mapping.json: roles.bot: 'doctor' is not one of patient, assistant, system",
    ]
