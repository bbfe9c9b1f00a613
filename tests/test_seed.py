"""Reading seed files: encodings, chat exports, splitting, and every kind of bad file."""

import json
from pathlib import Path

import pytest

from app.errors import SeedFileError
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
