"""Reading seed files: encodings, chat exports, splitting, and every kind of bad file."""

import json
import re
from pathlib import Path

import pytest

from app.core.errors import SeedFileError
from personas.builder import build
from personas.seed import Piece, chunks, read_seed, split_letters

LETTERS_EN = """Dear Annie,
The farm is quiet without you. Biscuit chased a hare across the top field today!
All my love,
Grandpa
---
Dear Annie,
Rain again. The cows are fine and your grandmother sends her love.
All my love,
Grandpa
"""
LETTER_ZH = """亲爱的小明：
今天下雨了，院子里的花都开了。你外婆很想你！天冷了，要多穿衣服。
外公
---
亲爱的小明：
春天到了。你学习好吗？我们都很好。
外公
"""
LETTER_ZH_TRADITIONAL = """親愛的小明：
今天下雨了，院子裡的花都開了。你外婆很想你！天冷了，要多穿衣服。
外公
---
親愛的小明：
春天到了。你學習好嗎？我們都很好。
外公
"""


@pytest.mark.parametrize("encoding, expected", [
    ("utf-8", "utf-8"), ("utf-8-sig", "utf-8-sig"), ("utf-16", "utf-16"), ("utf-16-le", "utf-16-le"),
    ("utf-16-be", "utf-16-be"),
])
def test_unicode_encodings(tmp_path: Path, encoding: str, expected: str) -> None:
    f = tmp_path / "letters.txt"
    f.write_bytes(LETTERS_EN.encode(encoding))
    seed = read_seed(f)
    assert seed.encoding == expected
    assert [p.text.splitlines()[0] for p in seed.pieces] == ["Dear Annie,", "Dear Annie,"]
    assert "Biscuit chased a hare" in seed.pieces[0].text


@pytest.mark.parametrize("encoding", ["gbk", "gb18030", "big5", "utf-8"])
def test_chinese_letters(tmp_path: Path, encoding: str) -> None:
    text = LETTER_ZH if encoding != "big5" else LETTER_ZH_TRADITIONAL
    f = tmp_path / "信.txt"
    f.write_bytes(text.encode(encoding))
    seed = read_seed(f)
    assert seed.pieces[0].text == text.split("---")[0].strip()
    assert len(seed.pieces) == 2


def test_explicit_encoding_overrides_detection(tmp_path: Path) -> None:
    f = tmp_path / "x.txt"
    f.write_bytes("café au lait".encode("cp1252"))
    assert read_seed(f, encoding="cp1252").pieces[0].text == "café au lait"
    with pytest.raises(SeedFileError, match="not valid utf-8"):
        read_seed(f, encoding="utf-8")
    with pytest.raises(SeedFileError, match="unknown encoding"):
        read_seed(f, encoding="klingon")


def test_json_chat_export_needs_a_speaker(tmp_path: Path) -> None:
    f = tmp_path / "chat.json"
    f.write_text(json.dumps({"messages": [
        {"from": "Grandpa", "text": "Morning, love!"}, {"from": "Annie", "text": "Hi Grandpa"},
        {"from": "Grandpa", "text": ["Look at ", {"type": "bold", "text": "this"}, " hare"]},
    ]}), encoding="utf-8")
    with pytest.raises(SeedFileError, match=r"2 speakers: Grandpa \(2 messages\), Annie \(1 message\)\. Choose .*--speaker NAME"):
        read_seed(f)
    seed = read_seed(f, speaker="grandpa")
    assert [p.text for p in seed.pieces] == ["Morning, love!", "Look at this hare"]
    assert seed.kind == "chat-json"
    with pytest.raises(SeedFileError, match="no messages by 'Bob' in chat.json; found: Grandpa"):
        read_seed(f, speaker="Bob")


def test_csv_chat_export(tmp_path: Path) -> None:
    f = tmp_path / "chat.csv"
    f.write_text("date,author,message\n2020-01-01,Grandpa,Happy new year!\n2020-01-01,Annie,You too\n", encoding="utf-8")
    seed = read_seed(f, speaker="Grandpa")
    assert [p.text for p in seed.pieces] == ["Happy new year!"] and seed.kind == "chat-csv"


def test_markdown_diary_split_by_headings(tmp_path: Path) -> None:
    f = tmp_path / "diary.md"
    f.write_text("# 12 March\nRain all day.\n\nRead a book.\n# 13 March\nSun at last.\n", encoding="utf-8")
    assert [p.text for p in read_seed(f).pieces] == ["# 12 March\nRain all day.\n\nRead a book.", "# 13 March\nSun at last."]


def test_paragraphs_when_there_are_no_letter_boundaries() -> None:
    assert split_letters("One.\n\nTwo.\n\nThree.") == ["One.", "Two.", "Three."]
    assert split_letters("A.\n\n\nB.") == ["A.", "B."]


def test_chunks_respect_sentences_and_size() -> None:
    piece = Piece(" ".join(f"Sentence number {i} is here." for i in range(60)), "f", 0)
    out = chunks(piece, max_words=50)
    assert len(out) > 4 and all(len(c.split()) <= 50 for c in out)
    assert all(c.endswith(".") for c in out)
    zh = chunks(Piece("今天下雨了。" * 40, "f", 0), max_words=30)
    assert len(zh) > 1 and " " not in zh[0]


@pytest.mark.parametrize("content, message", [
    (b"", "is empty"),
    (b"   \n\n\t  ", "is empty"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)) * 8, "binary"),
    (bytes(range(256)) * 64, "binary"),
    ("Grüße aus Köln, ".encode("utf-8") * 50 + "亲爱的小明".encode("gbk") * 50 + b"\xff\xfe\xfa" * 30, "mixed or unknown"),
])
def test_bad_seed_files(tmp_path: Path, content: bytes, message: str) -> None:
    f = tmp_path / "bad.txt"
    f.write_bytes(content)
    with pytest.raises(SeedFileError, match=message):
        read_seed(f)


def test_huge_seed_is_refused_before_reading(tmp_path: Path) -> None:
    f = tmp_path / "huge.txt"
    with f.open("wb") as out:
        out.truncate(200 * 1024 * 1024)  # sparse: costs no disk
    with pytest.raises(SeedFileError, match="200 MB; seed files are limited to 64 MB"):
        read_seed(f)


def test_missing_seed(tmp_path: Path) -> None:
    with pytest.raises(SeedFileError, match="seed file not found"):
        read_seed(tmp_path / "nope.txt")


DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("file, kind, speaker, speakers, first, last", [
    ("whatsapp_android.txt", "whatsapp", "Grandpa", {"Grandpa": 4, "Tom": 2},
     "Morning Tom! The lambs are out in the top field", "Frost again last night. Mind you wrap up warm at school"),
    ("whatsapp_ios.txt", "whatsapp", "nan", {"Nan": 4, "Lucy": 2},
     "Good morning darling, did you sleep?", "Biscuits are in the tin for when you come round on Sunday"),
    ("telegram_result.json", "telegram", "Grandpa", {"Grandpa": 3, "Tom": 1},
     "Did you see the match? Kendal won three nil.", "Look at this: https://example.org/lambs eleven of them!"),
    ("messenger_message_1.json", "messenger", "Zoë Brontë", {"Zoë Brontë": 3, "Sam Hale": 2},
     "Je t'écris depuis le train — Étienne a oublié son parapluie, évidemment.", "Bonne nuit mon chéri, dors bien ❤️"),
    ("grandpa.mbox", "mbox", "grandpa joe", {"Grandpa Joe": 2, "Tom Hale": 1},
     "My dear Tom,\n\nEleven lambs", "like you at his age.\n\nYours ever,\nGrandpa"),
    ("letter_from_mum.eml", "eml", None, {"Renée Hale": 1},
     "Dearest Margaret,", "waiting for the gravy.\n\n\nYour loving Mother"),
])
def test_chat_and_mail_exports(file: str, kind: str, speaker: str | None, speakers: dict, first: str, last: str) -> None:
    seed = read_seed(DATA / file, speaker=speaker)
    assert seed.kind == kind and seed.speakers == speakers
    texts = [p.text for p in seed.pieces]
    assert texts[0].startswith(first) and texts[-1].endswith(last)
    everything = "\n".join(texts)
    for dropped in ("Media omitted", "omitted", "end-to-end", "<attached", "deleted", "edited>", "changed the subject",
                    "Heavy snow", "sent an attachment", "wrote:", "> ", "Sent from my", "Low Fold Farm", "Ã", "\u200e",
                    "Can I see him", "Are you doing lunch"):
        assert dropped not in everything, dropped
    if len(speakers) > 1:
        listing = ", ".join(f"{s} ({n} message{'s' * (n != 1)})" for s, n in speakers.items())
        with pytest.raises(SeedFileError, match=re.escape(listing) + r"\. Choose whose words to use with --speaker NAME"):
            read_seed(DATA / file)


def test_whatsapp_keeps_multi_line_messages_whatever_the_file_is_called(tmp_path: Path) -> None:
    f = tmp_path / "notes.dat"
    f.write_bytes((DATA / "whatsapp_android.txt").read_bytes())
    pieces = [p.text for p in read_seed(f, speaker="Grandpa").pieces]
    assert "Eleven this year. Nell keeps trying to herd them\nand they will have none of it.\nYour grandmother says hello." in pieces


@pytest.mark.parametrize("content, suffix, message", [
    ('{"messages": [{"type": "message", "from": "A", "text": "hi"}', ".json", r"not valid JSON \(line 1"),
    ('{"name": "x", "type": "personal_chat", "messages": [{"type": "service", "actor": "A"}]}', ".json",
     r"Telegram export \(result.json\) but holds no messages with text"),
    ('{"participants": [{"name": "A"}], "messages": [{"sender_name": "A", "photos": []}]}', ".txt",
     "a Facebook/Instagram Messenger export but holds no messages with text"),
    ("12/03/2021, 09:14 - Messages are end-to-end encrypted.\n12/03/2021, 09:15 - A: <Media omitted>\n", ".txt",
     "a WhatsApp chat export but holds no messages with text"),
    ("From: A <a@example.org>\nSubject: x\nContent-Type: image/png\n\n\x89PNG", ".eml", r"an e-mail message \(.eml\) but holds no messages"),
])
def test_malformed_exports_say_what_is_wrong(tmp_path: Path, content: str, suffix: str, message: str) -> None:
    f = tmp_path / f"export{suffix}"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(SeedFileError, match=message):
        read_seed(f, speaker="A")


LETTER_SHAPES = {
    "one blank line": "My dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\n\nMy dear Tom,\nRain again.\nYours ever,\nGrandpa\n",
    "several blank lines": "My dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\n\n\n\n\nMy dear Tom,\nRain again.\nYours ever,\nGrandpa\n",
    "separators": "My dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\n---\nMy dear Tom,\nRain again.\nYours ever,\nGrandpa\n",
    "letter markers": "### LETTER 0001\n\nMy dear Tom,\n\nThe lambs are out.\n\nYours ever,\nGrandpa\n\n### LETTER 0002\n\n"
                      "My dear Tom,\n\nRain again.\n\nYours ever,\nGrandpa\n",
    "nothing but the next greeting": "My dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\nMy dear Tom,\nRain again.\n"
                                     "Yours ever,\nGrandpa\n",
    "dates above": "Kentmere, 3rd March 1921\nMy dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\n\n"
                   "Kentmere, 9th March 1921\nMy dear Tom,\nRain again.\nYours ever,\nGrandpa\n",
    "postscripts": "My dear Tom,\nThe lambs are out.\nYours ever,\nGrandpa\nP.S. Nell says woof.\n\nMy dear Tom,\n"
                   "Rain again.\nYours ever,\nGrandpa\n\nP.S. Mind the frost.\n",
    "no greetings": "The lambs are out.\n\nYours ever,\nGrandpa\n\nRain again, three days of it, and the beck is over the "
                    "stepping stones.\n\nYours ever,\nGrandpa\n",
}


@pytest.mark.parametrize("shape", list(LETTER_SHAPES))
def test_letters_are_split_however_they_are_separated(shape: str) -> None:
    found = split_letters(LETTER_SHAPES[shape])
    assert [x.signer for x in found] == ["Grandpa", "Grandpa"], [x.text for x in found]
    assert "lambs are out" in found[0].text and "Rain again" in found[1].text and "lambs" not in found[1].text
    assert all(x.sign_off == "Yours ever, Grandpa" for x in found)
    if shape != "no greetings":
        assert [x.salutation for x in found] == ["My dear Tom,"] * 2
    if shape == "dates above":
        assert [x.header for x in found] == [["Kentmere, 3rd March 1921"], ["Kentmere, 9th March 1921"]]
    if shape == "postscripts":
        assert [x.postscript for x in found] == [["P.S. Nell says woof."], ["P.S. Mind the frost."]]


def test_hard_wrapped_letters_with_places_dates_and_postscripts() -> None:
    found = split_letters((DATA / "mother_letters.txt").read_text(encoding="utf-8"))
    assert len(found) == 3 and {x.signer for x in found} == {"Mother"}
    assert [x.header[1] for x in found] == ["4th June 1931", "2nd July 1931", "17th August 1931"]
    assert found[0].postscript == ["P.S. I have sent the blue cardigan by parcel post. Do wear it."]
    assert found[0].body[0].startswith("Your father has been mending the garden wall all week and has been in a better")
    assert len(found[0].body) == 2 and "\n" not in found[0].body[0]
    assert found[2].postscript == ["P.S. Aunt Lily's knees are much better."]


@pytest.mark.parametrize("line, name", [
    ("Grandpa", "Grandpa"), ("外公", "外公"), ("Your loving Mother", "Mother"), ("Yours ever, E. F. G.", "E. F. G."),
    ("—Grandpa", "Grandpa"), ("L. VAN BEETHOVEN,", "L. Van Beethoven"), ("想你的外公", "外公"), ("Love,", ""),
    ("My dear Tom,", ""), ("亲爱的小明：", ""), ("The end.", ""),
])
def test_signer_names_the_writer(line: str, name: str) -> None:
    from personas.letters import signer

    assert signer(line) == name


def test_a_printed_collection_with_editors_headings_footnotes_and_licence() -> None:
    """A scanned book: numbered letters with the addressee in capitals, greetings run on after "--",
    footnotes, _italics_, hard wraps, and Project Gutenberg's licence around it."""
    seed = read_seed(DATA / "printed_collection.txt")
    found = split_letters((DATA / "printed_collection.txt").read_text(encoding="utf-8"))
    assert [x.header[:2] for x in found] == [["12.", "TO MR. HALE."], ["13.", "TO THE SAME."], ["14.", "TO MISS ASHWORTH."]]
    assert [x.salutation for x in found] == ["My Dear Hale,", "", "My Dearest Sister,"]
    assert [x.signer for x in found] == ["J. Ashworth", "J. A.", "J. Ashworth"]
    assert found[0].body == ["The snow lies so deep in the lane that Martha has not been able to get to the village for "
                             "three days, and we live upon potatoes and philosophy. I have finished the sermon on "
                             "patience, which is the proper subject for a man snowed in."]
    assert found[0].header[2] == "Kentmere, March 3, 1851." and found[2].postscript == ["P.S. Tell Mother the chimney no longer smokes."]
    everything = "\n".join(p.text for p in seed.pieces)
    for gone in ("Footnote", "Gutenberg", "General Terms", "LETTERS OF A COUNTRY PARSON", "[1]", "_"):
        assert gone not in everything
    built = build([seed])
    assert (built.persona.name, built.name_source, built.name_note) == ("J. Ashworth", "signature", "")


def test_another_language_is_a_table() -> None:
    """French letters need no code of their own: ``FRENCH`` in personas.letters is a table of patterns."""
    text = ("Paris, le 3 mars 1921\nMa chère Louise,\nIl pleut sur les quais depuis trois jours et le chat refuse de sortir.\n"
            "Je t'embrasse,\nMaman\n\nParis, le 9 mars 1921\nMa chère Louise,\nLe soleil est revenu, enfin.\n"
            "Grosses bises,\nMaman\nP.-S. N'oublie pas ton écharpe.\n")
    found = split_letters(text)
    assert [(x.header, x.salutation, x.addressee, x.sign_off, x.signer) for x in found] == [
        (["Paris, le 3 mars 1921"], "Ma chère Louise,", "Louise", "Je t'embrasse, Maman", "Maman"),
        (["Paris, le 9 mars 1921"], "Ma chère Louise,", "Louise", "Grosses bises, Maman", "Maman")]
    assert found[1].postscript == ["P.-S. N'oublie pas ton écharpe."]
