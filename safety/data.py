"""Loaders for the public safety data sets in ``../shared/data/safety`` (training and evaluation).

The data is read where it lies, never copied into the project; a user's clone has no ``../shared``,
so ``data_dir()`` says so and the callers skip or explain. Which rows train the shipped classifier
and which only evaluate it is decided here, in one place, so that evaluation never scores data the
classifier was trained on.
"""

from __future__ import annotations

import ast
import csv
import gzip
import json
import os
from collections.abc import Iterator
from pathlib import Path

from app.errors import KeepsakeError

DO_NOT_ANSWER = {  # (risk area, type of harm) -> our category; None = not a harm for a companion bot
    "Assisting illegal activities": "crime_fraud",
    "Nudging or advising users to perform unethical or unsafe actions": "crime_fraud",
    "Reducing the cost of disinformation campaigns": "crime_fraud",
    "Compromise privacy by leaking or inferring private information (person/individual)": "privacy",
    "Risks from leaking or inferring sensitive information (organization/gov)": "privacy",
    "Social stereotypes and unfair discrimination": "hate",
    "Toxic language (hate speech)": "hate",
    "Adult Content": "sexual",
    "Causing material harm by disseminating misinformation e.g. in medicine or law": "specialized_advice",
    "Mental Health or Overreliance Crisis": "self_harm",
    "Disseminating false or misleading information": None,
    "Treat Chatbot as a Human": None,  # "do you love me?" is what a persona chat is for
}
HARMBENCH = {"cybercrime_intrusion": "crime_fraud", "illegal": "crime_fraud", "chemical_biological": "violence_weapons",
             "harassment_bullying": "harassment", "harmful": "violence_weapons",
             "misinformation_disinformation": "crime_fraud"}
STRONGREJECT = {"Non-violent crimes": "crime_fraud", "Violence": "violence_weapons",
                "Disinformation and deception": "crime_fraud", "Hate, harassment and discrimination": "hate",
                "Illegal goods and services": "crime_fraud", "Sexual content": "sexual"}
XSTEST_TRAIN_MODELS = ("gpt4", "llama2new", "mistralinstruct")  # the other two evaluate


def data_dir() -> Path:
    """The shared safety data, or a KeepsakeError saying it is absent (as in a user's clone)."""
    path = Path(os.environ.get("KEEPSAKE_SAFETY_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "safety")
    if not (path / "xstest" / "xstest_prompts.csv").is_file():
        raise KeepsakeError(f"the safety data sets are not at {path} (they live beside the repository in ../shared; "
                            "set KEEPSAKE_SAFETY_DATA to their folder)")
    return path


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def do_not_answer(split: str) -> Iterator[tuple[str, str]]:
    """(prompt, category); even ids train, odd ids evaluate."""
    for row in _csv(data_dir() / "do-not-answer" / "do_not_answer_en.csv"):
        category = DO_NOT_ANSWER.get(row["types_of_harm"])
        if category and (int(row["id"]) % 2 == 0) == (split == "train"):
            yield row["question"], category


def harmbench(split: str) -> Iterator[tuple[str, str]]:
    """(behaviour, category) of the standard and contextual behaviours; val trains, test evaluates."""
    name = "harmbench_behaviors_text_val.csv" if split == "train" else "harmbench_behaviors_text_test.csv"
    for row in _csv(data_dir() / "harmbench" / name):
        if row["SemanticCategory"] in HARMBENCH:
            text = f"{row['ContextString']}\n\n{row['Behavior']}" if row.get("ContextString") else row["Behavior"]
            yield text, HARMBENCH[row["SemanticCategory"]]


def advbench() -> Iterator[tuple[str, str]]:
    for row in _csv(data_dir() / "harmbench" / "advbench_behaviors.csv"):
        yield row["Behavior"], "crime_fraud"


def strongreject() -> Iterator[tuple[str, str]]:
    for row in _csv(data_dir() / "harmbench" / "strongreject_dataset.csv"):
        if row["category"] in STRONGREJECT:
            yield row["forbidden_prompt"], STRONGREJECT[row["category"]]


def toxicchat() -> Iterator[tuple[str, bool, bool]]:
    """(prompt, toxic, jailbreak) from real chatbot users."""
    data = json.loads((data_dir() / "toxicchat" / "toxic_chat_train.json").read_text(encoding="utf-8"))
    for inst in data["instances"]:
        ann = inst["annotations"]
        yield inst["instance"], ann["toxicity"]["majority_human"] == "1", ann["jailbreaking"]["majority_human"] == "1"


def davidson() -> Iterator[tuple[str, int]]:
    """(tweet, class): 0 hate speech, 1 offensive, 2 neither."""
    for row in _csv(data_dir() / "davidson-hate-offensive" / "labeled_data.csv"):
        yield row["tweet"], int(row["class"])


def xstest_prompts() -> Iterator[tuple[str, str, str]]:
    """(prompt, type, label safe/unsafe): evaluation only."""
    for row in _csv(data_dir() / "xstest" / "xstest_prompts.csv"):
        yield row["prompt"], row["type"], row["label"]


def xstest_completions(split: str) -> Iterator[tuple[str, str, str, str]]:
    """(prompt, completion, prompt label, reply label) with reply labels 1_full_compliance etc."""
    labels = {p: label for p, _, label in xstest_prompts()}
    folder = data_dir() / "xstest" / "model_completions"
    for path in sorted(folder.glob("xstest_v2_completions_*.csv")):
        model = path.stem.rsplit("_", 1)[-1]
        if (model in XSTEST_TRAIN_MODELS) != (split == "train"):
            continue
        for row in _csv(path):
            if row.get("final_label") and row.get("completion"):
                yield row["prompt"], row["completion"], labels.get(row["prompt"], "safe"), row["final_label"]


def rbr_gold() -> Iterator[tuple[str, str, str, str]]:
    """(last user message, completion, policy category, response type): evaluation only."""
    for line in (data_dir() / "openai-rbr-gold" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = row["prompt"] if isinstance(row["prompt"], list) else ast.literal_eval(row["prompt"])
        completion = row["completion"] if isinstance(row["completion"], list) else ast.literal_eval(row["completion"])
        user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        reply = completion[0]["content"] if isinstance(completion, list) and completion else str(completion)
        yield user, reply, row["category"], row["response_type"]


def hh_rlhf(limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    """(dialogue so far, chosen final reply, rejected final reply)."""
    with gzip.open(data_dir() / "hh-rlhf-harmless-base" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            row = json.loads(line)
            head, _, chosen = row["chosen"].rpartition("\n\nAssistant:")
            _, _, rejected = row["rejected"].rpartition("\n\nAssistant:")
            prompt = head.rpartition("\n\nHuman:")[2].strip()
            yield prompt, chosen.strip(), rejected.strip()
