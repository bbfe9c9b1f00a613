"""Does a persona sound like the person? An authorship test on public-domain letters.

The letters of eight writers in ``../shared/data/letters`` (one file per writer, ``### LETTER nnnn``
markers) are split in file order: the first 80% are the **seed** a persona may be built from, the last
20% are **held out**. A character n-gram classifier (TF-IDF of 2–4-character grams, linear SVM) is
trained on passages of the seed letters and checked on passages of the held-out ones, so its accuracy
on real writing is known before it judges anything else. Then, for each writer, a persona answers the
same everyday questions and the classifier says whose writing each reply is; the score is the share
attributed to the right writer (chance is one in the number of writers).

Three conditions, each through the real chat path (``ChatService``: the shipped sampler and safety
filter, a fresh conversation per question, nothing remembered from one question to the next):

* ``naive``: the baseline, a persona whose system prompt is "You are NAME." and three seed excerpts,
  nothing else (no memory recall, no profile);
* ``prompt``: the persona that ``personas create`` builds from the seed file;
* ``finetuned``: the same persona after ``personas finetune`` with a time limit per writer.

Questions come from ``fidelity_questions.json``: a ``dev`` set to tune the product on and a ``test`` set
of 30 that the bench reports on, written for this purpose and sharing no sentence with the letters.
Corners cut: the classifier knows only these eight writers, so a reply in nobody's voice is still
attributed to one of them; passages of 120 words stand in for replies of about that length.
"""

from __future__ import annotations

import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.errors import KeepsakeError

WRITERS = {  # slug -> the name the persona is given (as a user would with --name)
    "walpole": "Horace Walpole", "abigail_adams": "Abigail Adams", "byron": "Lord Byron",
    "ebb": "Elizabeth Barrett Browning", "lamb": "Charles Lamb", "carlyle": "Thomas Carlyle",
    "twain": "Mark Twain", "hearn": "Lafcadio Hearn",
}
SEED_SHARE = 0.8
PASSAGE_WORDS = 120  # the classifier's unit: about the length of a reply
PASSAGES_PER_WRITER = 600  # training passages per writer, evenly spaced (the seeds differ fourfold in size)
NAIVE_EXCERPTS = 3
QUESTIONS = Path(__file__).with_name("fidelity_questions.json")
LETTER = re.compile(r"^### LETTER \d+\s*$", re.M)
CONDITIONS = ("naive", "prompt", "finetuned")
QUICK_WRITER = "abigail_adams"  # the smallest collection: the quickest to build personas from
FINETUNE_MINUTES = 3.0  # the full bench's training time per writer (--max-minutes)

Progress = Callable[[str], None]


def letters_dir() -> Path:
    """The shared letter collections, or a KeepsakeError saying they are absent (as in a user's clone)."""
    path = Path(os.environ.get("KEEPSAKE_LETTERS_DATA")
                or Path(__file__).resolve().parents[2] / "shared" / "data" / "letters")
    if not all((path / f"{slug}.txt").is_file() for slug in WRITERS):
        raise KeepsakeError(f"the letter collections are not at {path} (they live beside the repository in "
                            "../shared; set KEEPSAKE_LETTERS_DATA to their folder)")
    return path


def read_letters(slug: str, folder: Path | None = None) -> list[str]:
    """One writer's letters in file order, each as its paragraphs joined by blank lines."""
    text = ((folder or letters_dir()) / f"{slug}.txt").read_text(encoding="utf-8")
    return [letter.strip() for letter in LETTER.split(text) if letter.strip()]


def split(letters: Sequence[str]) -> tuple[list[str], list[str]]:
    """(seed, held out): the first ``round(0.8 n)`` letters and the rest."""
    n = round(SEED_SHARE * len(letters))
    return list(letters[:n]), list(letters[n:])


def passages(letters: Sequence[str], words: int = PASSAGE_WORDS) -> list[str]:
    """Consecutive windows of ``words`` words within each letter (a letter's short tail is dropped
    unless the letter is all there is).

    >>> passages(["a b c d e"], words=2)
    ['a b', 'c d']
    """
    out = []
    for letter in letters:
        tokens = letter.split()
        windows = [" ".join(tokens[i:i + words]) for i in range(0, max(len(tokens) - words + 1, 1), words)]
        out += [w for w in windows if w]
    return out


def evenly(items: Sequence, most: int) -> list:
    """At most ``most`` items, evenly spaced through ``items``."""
    if len(items) <= most:
        return list(items)
    return [items[int(i * len(items) / most)] for i in range(most)]


class Attributor:
    """Whose writing is this? Character 2–4-grams, TF-IDF, linear SVM (scikit-learn)."""

    def __init__(self) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.pipeline import make_pipeline
        from sklearn.svm import LinearSVC

        self.model = make_pipeline(
            TfidfVectorizer(analyzer="char", ngram_range=(2, 4), sublinear_tf=True, min_df=2, max_features=300_000),
            LinearSVC(C=0.5, class_weight="balanced"))

    def fit(self, texts: dict[str, Sequence[str]]) -> Attributor:
        """Train on ``{writer: passages}``."""
        xs = [t for texts_ in texts.values() for t in texts_]
        ys = [w for w, texts_ in texts.items() for _ in texts_]
        self.model.fit(xs, ys)
        return self

    def predict(self, texts: Sequence[str]) -> list[str]:
        return list(self.model.predict(list(texts))) if texts else []


def accuracy(attributor: Attributor, texts: dict[str, Sequence[str]]) -> dict[str, float]:
    """Share of each writer's texts attributed to that writer."""
    return {w: sum(p == w for p in attributor.predict(ts)) / len(ts) if ts else 0.0 for w, ts in texts.items()}


def questions(kind: str = "test") -> list[str]:
    """The ``test`` questions (reported) or the ``dev`` ones (for tuning)."""
    return json.loads(QUESTIONS.read_text(encoding="utf-8"))[kind]


def naive_persona(name: str, seed: Sequence[str]):  # noqa: ANN201
    """The baseline: "You are NAME." and three seed excerpts (the opening passage of three evenly
    spaced letters) in the system prompt, nothing else."""
    from personas.persona import Persona

    excerpts = [passages([letter])[0] for letter in evenly(seed, NAIVE_EXCERPTS)]
    prompt = f"You are {name}. Here are excerpts of your letters:\n\n" + "\n\n".join(excerpts)
    return Persona(name=name, system_prompt=prompt)


def seed_file(folder: Path, letters: Sequence[str]) -> Path:
    """The seed letters as a user's letters file: one letter after another, separated by ``---`` lines."""
    path = folder / "letters.txt"
    path.write_text("\n\n---\n\n".join(letters) + "\n", encoding="utf-8")
    return path


def ask(service, user_id: int, persona_id: int, asked: Sequence[str], sampling=None) -> list[str]:  # noqa: ANN001
    """Each question in a conversation of its own; what was said is forgotten before the next one."""
    replies = []
    for question in asked:
        live = service.send(user_id, question, persona_id=persona_id, sampling=sampling)
        live.run()
        replies.append(live.text)
        if service.memory is not None:
            service.memory.delete_scope(persona_id, user_id)
    return replies


COPY_RUN = 8  # words: a run this long found in the seed letters counts as copied, not written


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z0-9']+", text.lower())


def seed_runs(seed: Sequence[str], n: int = COPY_RUN) -> set[tuple[str, ...]]:
    """Every run of ``n`` consecutive words in the seed letters (lower-cased, punctuation ignored)."""
    runs: set[tuple[str, ...]] = set()
    for letter in seed:
        words = _words(letter)
        runs.update(tuple(words[i:i + n]) for i in range(len(words) - n + 1))
    return runs


def copied(reply: str, runs: set[tuple[str, ...]], n: int = COPY_RUN) -> tuple[float, int]:
    """(share of the reply's words inside an ``n``-word run that is also in the seed, longest such run in words):
    the classifier would credit a reply that merely repeats the letters, so how much of it does.

    >>> copied("so he said the cat sat on the mat today", seed_runs(["the cat sat on the mat"], n=3), n=3)
    (0.6, 6)
    """
    words = _words(reply)
    inside = [False] * len(words)
    for i in range(len(words) - n + 1):
        if tuple(words[i:i + n]) in runs:
            inside[i:i + n] = [True] * n
    longest = current = 0
    for flag in inside:
        current = current + 1 if flag else 0
        longest = max(longest, current)
    return (sum(inside) / len(words) if words else 0.0), longest


# What a persona's replies depend on besides the settings: a journal kept by other code is not reused.
PERSONA_CODE = ("personas/builder.py", "personas/style.py", "personas/prompting.py", "personas/finetune.py",
                "app/core/prompt.py", "app/core/chat.py", "app/core/llama.py", "safety/filter.py")


def code_version() -> str:
    """A digest of the persona, prompt and filter code (``PERSONA_CODE``)."""
    import hashlib

    root = Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for name in PERSONA_CODE:
        digest.update((root / name).read_bytes())
    return digest.hexdigest()[:12]


class Journal:
    """Each writer's replies per condition, appended to a JSON-lines file as soon as they are in, so a
    run that stops (a full run takes hours on a shared CPU) goes on where it stopped when started again
    with the same questions and settings; ``None`` keeps nothing."""

    def __init__(self, path: Path | None, key: dict) -> None:
        self.path, self.key = path, key
        self.done: dict[tuple[str, str], dict] = {}
        self._read()

    def _read(self) -> None:
        """What the file holds now: runs of different conditions or writers may share it at once."""
        if self.path is not None and self.path.exists():
            for line in self.path.read_text(encoding="utf-8").splitlines():
                entry = json.loads(line) if line.strip() else None
                if entry and entry.get("key") == self.key_for(entry["condition"]):
                    self.done[(entry["slug"], entry["condition"])] = entry

    def key_for(self, condition: str) -> dict:
        """What the replies depend on: the training time only matters to the fine-tuned ones."""
        return {k: v for k, v in self.key.items() if condition == "finetuned" or k != "finetune_minutes"}

    def get(self, slug: str, condition: str) -> dict | None:
        self._read()
        return self.done.get((slug, condition))

    def add(self, slug: str, condition: str, replies: list[str], **extra: object) -> None:
        entry = {"key": self.key_for(condition), "slug": slug, "condition": condition, "replies": replies, **extra}
        self.done[(slug, condition)] = entry
        if self.path is not None:
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(entry, ensure_ascii=False) + "\n")


@dataclass
class WriterResult:
    slug: str
    name: str
    replies: dict[str, list[str]]  # condition -> replies
    attributed: dict[str, list[str]]  # condition -> predicted writer per reply
    finetune: dict
    seconds: dict  # condition -> seconds spent answering (and, for finetuned, training)

    def score(self, condition: str) -> float:
        got = self.attributed.get(condition, [])
        return sum(p == self.slug for p in got) / len(got) if got else float("nan")


def run(slugs: Sequence[str] | None = None, asked: Sequence[str] | None = None, *, conditions: Sequence[str] = CONDITIONS,
        finetune_minutes: float = FINETUNE_MINUTES, settings_overrides: dict | None = None,
        seed_letters: int | None = None, progress: Progress | None = None, journal: Path | None = None) -> dict:
    """The whole test: train and check the classifier, then each writer's personas answer ``asked``.

    ``slugs`` picks writers (default all eight; the classifier always knows all eight, so chance
    stays one in eight). ``seed_letters`` builds the personas from only the first letters of each
    seed (the bench's smoke run, where embedding a whole collection would take most of its time).
    ``journal`` keeps the replies as they come and skips what an earlier, stopped run already has.
    """
    from app.core.settings import load_settings
    from app.service import ChatService
    from memory.store import Store
    from personas.builder import build, create
    from personas.finetune import finetune
    from personas.persona import insert
    from personas.seed import read_seed

    say = progress or (lambda message: None)
    folder = letters_dir()
    slugs = list(slugs or WRITERS)
    asked = list(asked if asked is not None else questions("test"))
    started = time.perf_counter()
    letters = {slug: split(read_letters(slug, folder)) for slug in WRITERS}
    say("training the authorship classifier on the seed letters")
    attributor = Attributor().fit({s: evenly(passages(seed), PASSAGES_PER_WRITER) for s, (seed, _) in letters.items()})
    held = accuracy(attributor, {s: passages(h) for s, (_, h) in letters.items()})
    kept = Journal(journal, {"questions": asked, "seed_letters": seed_letters, "finetune_minutes": finetune_minutes,
                             "settings": settings_overrides or {}, "code": code_version()})
    results: list[WriterResult] = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(home=Path(tmp), **(settings_overrides or {}))
        service = ChatService(settings, store=Store(f"sqlite:///{Path(tmp) / 'fidelity.db'}"))
        bare = ChatService(settings.model_copy(update={"memory": False}), backend=service.backend, store=service.store)
        for slug in slugs:
            name, seed = WRITERS[slug], letters[slug][0][:seed_letters]
            uid = service.store.user_id(f"fidelity-{slug}")
            result = WriterResult(slug, name, {}, {}, {}, {})
            todo = [c for c in conditions if kept.get(slug, c) is None]
            if "naive" in todo:
                with service.store.session() as s:
                    naive_id = insert(s, uid, naive_persona(f"{name} (naive)", seed))
                say(f"{name}: naive baseline")
                clock = time.perf_counter()
                kept.add(slug, "naive", ask(bare, uid, naive_id, asked), seconds=time.perf_counter() - clock)
            if "prompt" in todo or "finetuned" in todo:
                say(f"{name}: personas create")
                built = build([read_seed(seed_file(Path(tmp), seed))], name=name)
                pid = create(service.memory, uid, built)
                if "prompt" in todo:
                    say(f"{name}: prompt only")
                    clock = time.perf_counter()
                    kept.add(slug, "prompt", ask(service, uid, pid, asked), seconds=time.perf_counter() - clock)
                if "finetuned" in todo:
                    say(f"{name}: personas finetune --max-minutes {finetune_minutes:g}")
                    clock = time.perf_counter()
                    tuned = finetune(service.store, settings, uid, pid, max_minutes=finetune_minutes)
                    trained = {"steps": tuned.steps, "total_steps": tuned.total_steps,
                               "minutes": tuned.seconds / 60, "wall_minutes": (time.perf_counter() - clock) / 60,
                               "perplexity_before": tuned.perplexity_before, "perplexity_after": tuned.perplexity_after}
                    say(f"{name}: fine-tuned ({tuned.steps} of {tuned.total_steps} steps)")
                    clock = time.perf_counter()
                    kept.add(slug, "finetuned", ask(service, uid, pid, asked), seconds=time.perf_counter() - clock,
                             finetune=trained)
            for c in conditions:
                entry = kept.get(slug, c)
                result.replies[c] = entry["replies"]
                result.seconds[c] = entry.get("seconds", 0.0)
                result.finetune = entry.get("finetune", result.finetune)
            result.attributed = {c: attributor.predict(r) for c, r in result.replies.items()}
            results.append(result)
            say(f"{name}: " + ", ".join(f"{c} {result.score(c):.2f}" for c in result.replies))
        service.store.close()
    runs = {r.slug: seed_runs(letters[r.slug][0][:seed_letters]) for r in results}
    copies = {r.slug: {c: [copied(t, runs[r.slug]) for t in r.replies[c]] for c in r.replies} for r in results}
    return {
        "writers": len(WRITERS), "questions": len(asked), "finetune_minutes": finetune_minutes,
        "seed_letters": seed_letters, "copy_run": COPY_RUN,
        "classifier_heldout": held, "classifier_heldout_mean": sum(held.values()) / len(held),
        "per_writer": {r.slug: {"name": r.name, **{c: r.score(c) for c in r.replies}, "finetune": r.finetune,
                                "attributed": r.attributed, "seconds": r.seconds,
                                "reply_words": {c: sum(len(t.split()) for t in r.replies[c]) / max(len(r.replies[c]), 1)
                                                for c in r.replies},
                                "copied_share": {c: sum(s for s, _ in v) / max(len(v), 1) for c, v in copies[r.slug].items()},
                                "longest_copy": {c: max((n for _, n in v), default=0) for c, v in copies[r.slug].items()},
                                "replies": r.replies} for r in results},
        "mean": {c: sum(r.score(c) for r in results) / len(results) for c in conditions if results
                 and all(c in r.replies for r in results)},
        "copied_share": {c: sum(sum(s for s, _ in copies[r.slug][c]) for r in results)
                         / max(sum(len(copies[r.slug][c]) for r in results), 1) for c in conditions if results},
        "seconds": time.perf_counter() - started,
    }


def render(results: dict) -> str:
    """The per-writer table, for ``python -m app bench``."""
    if "absent" in results:
        return f"\nSounding like the person: not measured: {results['absent']}"
    conditions = [c for c in CONDITIONS if c in results["mean"]]
    labels = {"naive": "naive baseline", "prompt": "prompt only", "finetuned": "fine-tuned"}
    lines = [f"\nSounding like the person: share of {results['questions']} replies attributed to the right writer "
             f"(chance 1/{results['writers']} = {1 / results['writers']:.2f}); fine-tune limit "
             f"{results['finetune_minutes']:g} min per writer"
             + (f"; smoke run: personas from the first {results['seed_letters']} seed letters"
                if results.get("seed_letters") else ""),
             f"  {'writer':<28}{'classifier':>11}" + "".join(f"{labels[c]:>16}" for c in conditions)]
    for slug, row in results["per_writer"].items():
        lines.append(f"  {row['name']:<28}{results['classifier_heldout'][slug]:>11.2f}"
                     + "".join(f"{row[c]:>16.2f}" for c in conditions))
    lines.append(f"  {'mean':<28}{results['classifier_heldout_mean']:>11.2f}"
                 + "".join(f"{results['mean'][c]:>16.2f}" for c in conditions))
    lines.append(f"  {'words per reply':<39}" + "".join(
        f"{statistics.median(r['reply_words'][c] for r in results['per_writer'].values()):>16.0f}" for c in conditions))
    lines.append(f"  {'copied from the seed':<39}" + "".join(f"{results['copied_share'][c]:>16.2f}" for c in conditions))
    tuned = [r["finetune"] for r in results["per_writer"].values() if r.get("finetune")]
    if tuned:
        lines.append(f"  fine-tune: {statistics.median(t['wall_minutes'] for t in tuned):.1f} min per writer in all "
                     f"(median), {statistics.median(t['steps'] for t in tuned):.0f} optimiser steps")
    lines.append("  (classifier: its accuracy on 120-word passages of the held-out 20% of the letters; copied: share "
                 f"of reply words inside a run of {results['copy_run']} words found in the seed letters; "
                 "targets: prompt only >= 0.60 with no writer below 0.40, fine-tuned >= 0.75)")
    return "\n".join(lines)
