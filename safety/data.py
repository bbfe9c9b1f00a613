"""The public safety data sets in ``../shared/data/safety``, and the one place where they are split.

The data is read where it lies, never copied into the project; a user's clone has no ``../shared``,
so ``data_dir()`` says so and the callers skip or explain.

Which rows train the shipped judge and which only evaluate it is decided here, by source and by
template, never row by row: a template's twins (do-not-answer's questions under one specific harm,
GPTFuzz's replies to one question, HarmBench's behaviours, PHTest's prompts) all land on one side.
Whole sources are held out where they are the measure (XSTest, StrongREJECT, the RBR gold set,
CoCoNot's contrast set, hh-rlhf, our probe file). ``safety.train`` then drops every training row
whose text is a near copy of an evaluation text (normalised text, and embedding cosine), and
safety/weights/README.md writes the whole split down.
"""

from __future__ import annotations

import ast
import csv
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import KeepsakeError
from safety.policy import SAFE

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
HELD_OUT_SHARE = 0.35  # of each hash-split source (do-not-answer harms, PHTest ids, ToxicChat prompts)
DAVIDSON_SHARE = 0.12  # 24k tweets: 3k held out are plenty, and each is embedded for the near-copy check
GPTFUZZ_EVAL_QUESTIONS = range(80, 100)  # the authors' evaluate split: its 20 questions are not in train.csv
PROBES = Path(__file__).resolve().parents[1] / "tests" / "data" / "safety_probes.json"


@dataclass(frozen=True)
class Request:
    """A request (or a message) with its policy label; ``group`` is the unit the split keeps together."""

    text: str
    label: str  # a policy label, SAFE, or "unsafe" when the source says harmful without saying how
    source: str
    group: str = ""

    @property
    def unsafe(self) -> bool:
        return self.label != SAFE


@dataclass(frozen=True)
class Reply:
    """A reply to a request: does it carry disallowed content, does it refuse (None: the source does not say)."""

    prompt: str
    reply: str
    disallowed: bool | None
    refusal: bool | None
    source: str
    group: str = ""


def data_dir() -> Path:
    """The shared safety data, or a KeepsakeError saying it is absent (as in a user's clone)."""
    path = Path(os.environ.get("KEEPSAKE_SAFETY_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data" / "safety")
    if not (path / "xstest" / "xstest_prompts.csv").is_file():
        raise KeepsakeError(f"the safety data sets are not at {path} (they live beside the repository in ../shared; "
                            "set KEEPSAKE_SAFETY_DATA to their folder)")
    return path


def normalise(text: str) -> str:
    """Lower case letters and digits only: the key for exact-duplicate removal across the split."""
    return " ".join(re.findall(r"[a-z0-9]+", text.lower()))


def held_out(group: str, share: float = HELD_OUT_SHARE) -> bool:
    """Whether a group goes to evaluation: a stable hash, so the split is the same on every machine."""
    return int(hashlib.sha256(group.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF < share


def _csv(path: Path) -> list[dict]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def _side(split: str, evaluate: bool) -> bool:
    if split not in ("train", "eval"):
        raise ValueError(f"split must be 'train' or 'eval', not {split!r}")
    return evaluate == (split == "eval")


# Requests --------------------------------------------------------------------------------------

def do_not_answer(split: str) -> Iterator[Request]:
    """Split by specific harm (61 templates of questions), so no template has twins on both sides."""
    for row in _csv(data_dir() / "do-not-answer" / "do_not_answer_en.csv"):
        category = DO_NOT_ANSWER.get(row["types_of_harm"])
        if category and _side(split, held_out("dna:" + row["specific_harms"])):
            yield Request(row["question"], category, "do-not-answer", row["specific_harms"])


def harmbench(split: str) -> Iterator[Request]:
    """Standard and contextual behaviours: HarmBench's val split trains, its test split evaluates."""
    name = "harmbench_behaviors_text_val.csv" if split == "train" else "harmbench_behaviors_text_test.csv"
    _side(split, False)
    for row in _csv(data_dir() / "harmbench" / name):
        if row["SemanticCategory"] in HARMBENCH:
            text = f"{row['ContextString']}\n\n{row['Behavior']}" if row.get("ContextString") else row["Behavior"]
            yield Request(text, HARMBENCH[row["SemanticCategory"]], "harmbench", row["BehaviorID"])


def advbench() -> Iterator[Request]:
    """Training only (AdvBench's 520 are worded alike; HarmBench test and StrongREJECT measure recall)."""
    for row in _csv(data_dir() / "harmbench" / "advbench_behaviors.csv"):
        yield Request(row["Behavior"], "unsafe", "advbench", row["BehaviorID"])


def strongreject() -> Iterator[Request]:
    """Evaluation only: a whole source held out for recall on plainly harmful requests."""
    for row in _csv(data_dir() / "harmbench" / "strongreject_dataset.csv"):
        yield Request(row["forbidden_prompt"], STRONGREJECT.get(row["category"], "unsafe"), "strongreject", row["source"])


def gptfuzz_questions(split: str) -> Iterator[Request]:
    for row in _csv(data_dir() / "gptfuzz-labelled-responses" / "question_list.csv"):
        if _side(split, int(row["index"]) in GPTFUZZ_EVAL_QUESTIONS):
            yield Request(row["text"], "unsafe", "gptfuzz", f"q{row['index']}")


def toxicchat(split: str) -> Iterator[Request]:
    """Real chatbot users: toxic ones are unsafe (jailbreak attempts labelled so); split by text hash."""
    data = json.loads((data_dir() / "toxicchat" / "toxic_chat_train.json").read_text(encoding="utf-8"))
    for inst in data["instances"]:
        text, ann = inst["instance"], inst["annotations"]
        if _side(split, held_out("tc:" + normalise(text))):
            jailbreak = ann["jailbreaking"]["majority_human"] == "1"
            toxic = ann["toxicity"]["majority_human"] == "1"
            yield Request(text, "jailbreak" if jailbreak else "unsafe" if toxic else SAFE, "toxicchat")


def davidson(split: str) -> Iterator[Request]:
    """Tweets: hate speech -> hate, offensive language -> harassment, neither -> safe; split by text hash."""
    labels = {0: "hate", 1: "harassment", 2: SAFE}
    for row in _csv(data_dir() / "davidson-hate-offensive" / "labeled_data.csv"):
        if _side(split, held_out("dv:" + normalise(row["tweet"]), DAVIDSON_SHARE)):
            yield Request(row["tweet"], labels[int(row["class"])], "davidson")


def phtest(split: str) -> Iterator[Request]:
    """Pseudo-harmful prompts (safe); ``controversial`` ones are labelled so, and never count as look-alikes."""
    for row in _csv(data_dir() / "phtest" / "dataset_v0.1.csv"):
        if _side(split, held_out("ph:" + row["ID"])):
            yield Request(row["Request"], SAFE, "phtest", row["Harmfulness"])


def coconot(split: str) -> Iterator[Request]:
    """Safety look-alikes to answer: the contrast set evaluates, the preference set's prompts train."""
    name = "coconot_contrast_eval.jsonl" if split == "eval" else "coconot_pref.jsonl"
    _side(split, split == "eval")
    for line in (data_dir() / "coconot" / name).read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["category"] == "Requests with safety concerns":
            yield Request(row["prompt"], SAFE, "coconot", row["subcategory"])


def xstest_prompts() -> Iterator[Request]:
    """Evaluation only: 250 safe look-alikes and their 200 unsafe contrasts."""
    for row in _csv(data_dir() / "xstest" / "xstest_prompts.csv"):
        yield Request(row["prompt"], SAFE if row["label"] == "safe" else "unsafe", "xstest", row["type"])


def probes() -> dict:
    """Our own held-out probes (tests/data/safety_probes.json): never trained on."""
    return json.loads(PROBES.read_text(encoding="utf-8"))


# Replies ---------------------------------------------------------------------------------------

def gptfuzz(split: str) -> Iterator[Reply]:
    """Jailbreak-template replies; the authors' split is by question (80 train, 20 evaluate)."""
    questions = {int(r["index"]): r["text"] for r in _csv(data_dir() / "gptfuzz-labelled-responses" / "question_list.csv")}
    for row in _csv(data_dir() / "gptfuzz-labelled-responses" / ("train.csv" if split == "train" else "evaluate.csv")):
        q = int(row["question"])
        if _side(split, q in GPTFUZZ_EVAL_QUESTIONS) and row["Response"].strip():
            jailbroken = row["label"] == "1"
            # Not jailbroken is a refusal or a deflection; only the jailbroken ones are known not to refuse.
            yield Reply(questions[q], row["Response"], jailbroken, False if jailbroken else None, "gptfuzz", f"q{q}")


def harmbench_classifier_val(split: str) -> Iterator[Reply]:
    """Attack prompts and replies with three human labels; split with HarmBench (val behaviours train)."""
    train = {r["BehaviorID"] for r in _csv(data_dir() / "harmbench" / "harmbench_behaviors_text_val.csv")}
    rows = json.loads((data_dir() / "harmbench-classifier-val" / "text_behaviors_val_set.json").read_text(encoding="utf-8"))
    for behaviour, items in rows.items():
        if _side(split, behaviour not in train):
            for item in items:
                votes = sum(int(item[f"human_{i}"]) for i in range(3))
                yield Reply(item["test_case"], item["generation"], votes >= 2, False if votes >= 2 else None,
                            "harmbench-classifier-val", behaviour)


def do_not_answer_replies(split: str) -> Iterator[Reply]:
    """Six models' replies with human labels, split by specific harm like the questions.

    ``action`` 0 (cannot assist) and 4 (cannot answer, lacks the ability) are refusals; 1-3 (refutes,
    gives both sides, answers with a disclaimer) and 5 (follows) are not.
    """
    harms = {row["id"]: row["specific_harms"] for row in _csv(data_dir() / "do-not-answer" / "do_not_answer_en.csv")}
    for path in sorted((data_dir() / "do-not-answer" / "Review_Human").glob("annotated_response_*.csv")):
        for row in _csv(path):
            harm = harms.get(row["id"], "")
            if _side(split, held_out("dna:" + harm)) and row["response"].strip():
                yield Reply(row["question"], row["response"], row["harmful"] == "1", row["action"] in ("0", "4"),
                            "do-not-answer", harm)


def phtest_replies(split: str) -> Iterator[Reply]:
    """Four models' replies to PHTest prompts with the authors' (automatic) refusal labels; split like the prompts."""
    for path in sorted((data_dir() / "phtest" / "evaluation_results").glob("*.csv.gz")):
        with gzip.open(path, "rt", encoding="utf-8", newline="") as f:
            for row in csv.DictReader(f):
                if _side(split, held_out("ph:" + row["ID"])) and row["Response"].strip():
                    yield Reply(row["Request"], row["Response"], False if row["Harmfulness"] == "harmless" else None,
                                row["Response_cls"] != "1_full_compliance", "phtest", row["Harmfulness"])


def coconot_chosen() -> Iterator[Reply]:
    """Training only: GPT-4's helpful answers to safety look-alikes (answered, nothing disallowed)."""
    for line in (data_dir() / "coconot" / "coconot_pref.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["category"] == "Requests with safety concerns" and row["chosen"].strip():
            yield Reply(row["prompt"], row["chosen"], False, False, "coconot", row["subcategory"])


def xstest_completions() -> Iterator[Reply]:
    """Evaluation only: five models' replies to the XSTest prompts, human-labelled."""
    labels = {r.text: r.label for r in xstest_prompts()}
    for path in sorted((data_dir() / "xstest" / "model_completions").glob("xstest_v2_completions_*.csv")):
        model = path.stem.rsplit("_", 1)[-1]
        for row in _csv(path):
            if row.get("final_label") and row.get("completion"):
                safe = labels.get(row["prompt"], SAFE) == SAFE
                complied = row["final_label"] == "1_full_compliance"
                yield Reply(row["prompt"], row["completion"], False if safe else None, not complied, "xstest", model)


def rbr_gold() -> Iterator[tuple[str, str, str, bool, bool]]:
    """(last user message, completion, policy category, the completion refuses, it holds disallowed content):
    evaluation only.

    Whether a completion refuses is read from its hand-labelled propositions, not from ``response_type``: that is
    the response the policy wants for the conversation (a "Hard Refuse" row's completion may write the story it was
    asked for; 26 of the 88 do), the target a grader compares the completion with. As with XSTest's completions,
    anything short of full compliance is a refusal: the propositions call "I'm sorry, but I can't provide information
    relating to ..." a partial compliance."""
    for line in (data_dir() / "openai-rbr-gold" / "train.jsonl").read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        prompt = row["prompt"] if isinstance(row["prompt"], list) else ast.literal_eval(row["prompt"])
        completion = row["completion"] if isinstance(row["completion"], list) else ast.literal_eval(row["completion"])
        said = row["propositions"] if isinstance(row["propositions"], dict) else ast.literal_eval(row["propositions"])
        user = next((m["content"] for m in reversed(prompt) if m["role"] == "user"), "")
        reply = completion[0]["content"] if isinstance(completion, list) and completion else str(completion)
        yield user, reply, row["category"], not said["fully_complies"], said["disallowed_content"]


def hh_rlhf(limit: int | None = None) -> Iterator[tuple[str, str, str]]:
    """(dialogue so far, chosen final reply, rejected final reply): evaluation only."""
    with gzip.open(data_dir() / "hh-rlhf-harmless-base" / "test.jsonl.gz", "rt", encoding="utf-8") as f:
        for i, line in enumerate(f):
            if limit is not None and i >= limit:
                break
            row = json.loads(line)
            head, _, chosen = row["chosen"].rpartition("\n\nAssistant:")
            _, _, rejected = row["rejected"].rpartition("\n\nAssistant:")
            prompt = head.rpartition("\n\nHuman:")[2].strip()
            yield prompt, chosen.strip(), rejected.strip()


# The split as a whole ----------------------------------------------------------------------------

def train_requests() -> list[Request]:
    """Every public request the judge may learn from (before near-duplicate removal)."""
    rows = [*do_not_answer("train"), *harmbench("train"), *advbench(), *gptfuzz_questions("train"),
            *toxicchat("train"), *davidson("train"), *phtest("train"), *coconot("train")]
    return [r for r in rows if not (r.source == "phtest" and r.group == "controversial")]


def eval_requests() -> dict[str, list[Request]]:
    """Held-out request sets by name."""
    return {"harmbench_test": list(harmbench("eval")), "strongreject": list(strongreject()),
            "do_not_answer": list(do_not_answer("eval")), "toxicchat": list(toxicchat("eval")),
            "davidson": list(davidson("eval")), "xstest": list(xstest_prompts()),
            "phtest_harmless": [r for r in phtest("eval") if r.group == "harmless"],
            "coconot_contrast": list(coconot("eval"))}


def train_replies() -> list[Reply]:
    return [*gptfuzz("train"), *harmbench_classifier_val("train"), *do_not_answer_replies("train"),
            *phtest_replies("train"), *coconot_chosen()]


def eval_replies() -> dict[str, list[Reply]]:
    return {"gptfuzz": list(gptfuzz("eval")), "harmbench_classifier_val": list(harmbench_classifier_val("eval")),
            "do_not_answer": list(do_not_answer_replies("eval")), "phtest": list(phtest_replies("eval")),
            "xstest": list(xstest_completions()),
            "rbr_gold": [Reply(p, r, content, refuses, "rbr-gold", c) for p, r, c, refuses, content in rbr_gold()]}


def eval_texts() -> set[str]:
    """Normalised text of every request and reply prompt that evaluates, ours included: training must avoid them. Not
    the empty key of a text with no Latin letter or digit (a probe in Russian): it would take every emoji-only
    training message (":)") for a copy; the near-copy check reads those texts."""
    texts = {r.text for rows in eval_requests().values() for r in rows}
    texts |= {r.prompt for rows in eval_replies().values() for r in rows}
    texts |= {p for p, _, _ in hh_rlhf()}
    return ({normalise(t) for t in texts} | probe_texts()) - {""}


def probe_messages(stem: str) -> list[dict]:
    """The messages of one of our probe files beside the judge probes (tests/data/<stem>.json)."""
    return json.loads((PROBES.parent / f"{stem}.json").read_text(encoding="utf-8"))["messages"]


SELF_HARM_PROBES = ("test", "dev", "short", "crisis", "crisis2", "languages_test",  # the blind test file first
                    "languages_dev", "act_test", "act_dev", "act_test2")


def self_harm_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our self-harm probes, (message, self-harm intent, kind): ``dev`` sets the detector's threshold, ``test``
    is blind, ``short`` is blind too and holds only short chat messages ("bye", "repeat after me", "im done.
    tonight"), which the other two lack, ``crisis``, plain statements naming a method or an object from the
    writer's life ("the belt's round my neck") beside look-alikes with the same words (blind to the self-harm rule,
    not to the written messages of author S, whose brief named its misses), and ``crisis2``, blind, crisis
    messages and look-alikes briefed in general words, and ``languages_test`` and ``languages_dev``, blind, the same in
    thirteen other languages and English mixed with one, halves by a hash of the text, ``languages_dev`` read while
    writing the self-harm rule's patterns for them, and ``act_test`` (blind) and ``act_dev`` (its figures read while
    choosing the detectors' ensemble), self-harm happening now or just done and its look-alikes, by two authors, and
    ``act_test2`` (blind), a third author's danger now, said plainly or half-hidden, and its look-alikes
    (tests/data/self_harm_probes_*.json); none is ever a training row."""
    return [(m["text"], m["self_harm"], m["kind"]) for m in probe_messages(f"self_harm_probes_{name}")]


def self_harm_probes() -> list[str]:
    return [t for name in SELF_HARM_PROBES for t, _, _ in self_harm_probe_rows(name)]


DOSE_PROBES = ("test", "dev", "test2")


def dose_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our dangerous-dose probes, (message, asks for a dangerous amount or use, kind), written by a helper who saw
    nothing of the project nor of the training messages (tests/data/dangerous_dose_probes_{test,dev}.json, split
    in two by a hash of the text); ``dev`` is read while choosing, ``test`` only to report; neither is ever a
    training row. ``test2``, a second blind set by another helper (2026-12-07), is read only to report."""
    return [(m["text"], m["dangerous_dose"], m["kind"]) for m in probe_messages(f"dangerous_dose_probes_{name}")]


def dose_probes() -> list[str]:
    return [t for name in DOSE_PROBES for t, _, _ in dose_probe_rows(name)]


QUANTITY_PROBES = ("test", "dev")


def quantity_probe_rows(name: str) -> list[tuple[str, str]]:
    """Our probes of amounts asked for (message, group): the sandwiches for eighty at the wake beside the dose requests
    in the same shape, careful medicine questions, self-harm and heavy grief, written by a helper who saw nothing of
    the project (tests/data/quantity_probes_{test,dev}.json, split in two by a hash of the text); ``dev`` is read
    while choosing, ``test`` only to report; neither is ever a training row."""
    return [(m["text"], m["group"]) for m in probe_messages(f"quantity_probes_{name}")]


def quantity_probes() -> list[str]:
    return [t for name in QUANTITY_PROBES for t, _ in quantity_probe_rows(name)]


HARM_OTHERS_PROBES = ("test", "dev")


def harm_others_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our probes of harm to someone else (message, asks for help to harm another person, an animal or a group, kind),
    written by a helper who saw nothing of the project, briefed in general words (tests/data/harm_others_probes_{test,
    dev}.json, split in two by a hash of the text); ``dev`` is read while choosing, ``test`` only to report; neither is
    ever a training row."""
    return [(m["text"], m["harm_others"], m["kind"]) for m in probe_messages(f"harm_others_probes_{name}")]


def harm_others_probes() -> list[str]:
    return [t for name in HARM_OTHERS_PROBES for t, _, _ in harm_others_probe_rows(name)]


HATE_PROBES = ("test", "dev")


def hate_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our probes of hate (message, asks for content that demeans a group, kind), written by a helper who saw nothing
    of the project, briefed in general words (tests/data/hate_probes_{test,dev}.json, split in two by a hash of the
    text); ``dev`` is read while choosing, ``test`` only to report; neither is ever a training row. Written after the
    other detectors were trained and kept out of ``probe_texts`` so that those still reproduce: the hate detector's
    training holds them apart itself (``safety.train.train_hate``)."""
    return [(m["text"], m["hate"], m["kind"]) for m in probe_messages(f"hate_probes_{name}")]


def hate_probes() -> list[str]:
    return [t for name in HATE_PROBES for t, _, _ in hate_probe_rows(name)]


MINORS_PROBES = ("test", "dev")


def minors_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our probes of requests about minors (message, asks for sexual content involving a minor or access to a child,
    kind), written by a helper who saw nothing of the project, briefed in general words (tests/data/minors_probes_
    {test,dev}.json, split in two by a hash of the text); ``dev`` is read while choosing, ``test`` only to report;
    neither is ever a training row. Kept out of ``probe_texts`` as the hate probes are: the minors detector's training
    holds them apart itself (``safety.train.train_minors``)."""
    return [(m["text"], m["minors"], m["kind"]) for m in probe_messages(f"minors_probes_{name}")]


def minors_probes() -> list[str]:
    return [t for name in MINORS_PROBES for t, _, _ in minors_probe_rows(name)]


WRITING_PROBES = ("test", "dev")


def writing_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our probes of requests to write something (message, harmful, kind): raps and roasts in play, pride and answers to
    prejudice, complaints, cards and dark fiction beside threats, harassment, content that demeans a group, deceit and
    incitement, written by a helper who saw nothing of the project, briefed in general words (tests/data/writing_probes_
    {test,dev}.json, split in two by a hash of the text); ``dev`` is read while choosing, ``test`` only to report;
    neither is ever a training row. Kept out of ``probe_texts`` as the hate probes are: the hate and harm-to-others
    detectors' training holds them apart itself."""
    return [(m["text"], m["label"] == "harmful", m["kind"]) for m in probe_messages(f"writing_probes_{name}")]


def writing_probes() -> list[str]:
    return [t for name in WRITING_PROBES for t, _, _ in writing_probe_rows(name)]


THREAT_PROBES = ("test", "dev")


def threat_probe_rows(name: str) -> list[tuple[str, bool, str]]:
    """Our probes of threats to a person in the user's life (message, harmful, kind): requests to write something that
    frightens a named person, to coerce a witness, to track someone or hurt them, beside complaints, anger at the dead,
    dark fiction, a sick relative's medicines and visits, neighbours' notes and someone afraid asking for safety,
    written by a helper who saw nothing of the project, briefed in general words (tests/data/threat_probes_{test,
    dev}.json, split in two by a hash of the text); ``dev`` is read while choosing, ``test`` only to report; neither is
    ever a training row. Kept out of ``probe_texts`` as the hate probes are: the harm-to-others detector's training
    holds them apart itself."""
    return [(m["text"], m["label"] == "harmful", m["kind"]) for m in probe_messages(f"threat_probes_{name}")]


def threat_probes() -> list[str]:
    return [t for name in THREAT_PROBES for t, _, _ in threat_probe_rows(name)]


CALM_PROBES = ("test", "dev")


def calm_probe_rows(name: str) -> list[tuple[str, str]]:
    """Our probes of calm talk beside self-harm and dangerous dose requests (message, group: ``calm``, ``care``,
    ``self_harm`` or ``dangerous_dose``), written by a helper who saw nothing of the project, briefed in general words
    (tests/data/calm_probes_{test,dev}.json, split in two by a hash of the text); ``dev`` is read while choosing,
    ``test`` only to report; neither is ever a training row."""
    return [(m["text"], m["group"]) for m in probe_messages(f"calm_probes_{name}")]


def calm_probes() -> list[str]:
    return [t for name in CALM_PROBES for t, _ in calm_probe_rows(name)]


def small_model_reply_probes() -> list[Reply]:
    """Our blind comply-vs-refuse probes written in a small model's manner, for a family-member persona
    (tests/data/reply_probes_small_model.json): whether each reply refuses; not whether it carries disallowed
    content, which they do not say. Written after the detectors were trained and kept out of ``probe_texts`` so that
    they still reproduce: one request is within cosine 0.9 of a written harm-to-others message they train on (a
    forged doctor's note, 0.91), which flatters the request readers on that one row of the filter's replay."""
    return [Reply(m["request"], m["reply"], None, m["refuses"], "probes-small-model", m["kind"])
            for m in probe_messages("reply_probes_small_model")]


def probe_texts() -> set[str]:
    p = probes()
    return ({normalise(r["text"]) for r in p["requests"]} | {normalise(r["prompt"]) for r in p["replies"]}
            | {normalise(t) for t in self_harm_probes() + dose_probes() + quantity_probes() + harm_others_probes()})
