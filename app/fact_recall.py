"""How well facts from a persona's seed come back in chat: a measurement the benchmark and a test share.

Each probe is a question about something a sample seed mentions (a name, a place, a pet) and the word
the answer must contain. The persona is made the way a user makes it (``build`` and ``create``,
every fact candidate accepted into the lorebook) and asked through ``ChatService``: the seed memories
it recalls and the lorebook entries the question triggers go into the prompt, and the model answers.
Two shares are reported: the answer reached the prompt (retrieval) and the answer is in the reply
(what the user sees). Questions are worded afresh, never sentences of the seed.
"""

from __future__ import annotations

import json
import statistics
import tempfile
from pathlib import Path

PROBES = Path(__file__).resolve().parents[1] / "tests" / "data" / "fact_probes.json"


def fact_recall(settings, backend, embedder, probes: Path = PROBES, max_tokens: int = 48,  # type: ignore[no-untyped-def]
                seeds: set[str] | None = None) -> dict:
    """Share of seed-fact questions whose answer reaches the prompt and the reply; per probe details.

    ``seeds`` limits the run to the probes of those sample files (a quicker check).
    """
    from app.service import ChatService
    from memory.memories import LongTermMemory
    from memory.store import Store
    from personas import manage
    from personas.builder import build, create
    from personas.seed import read_seed

    cases = [c for c in json.loads(probes.read_text(encoding="utf-8")) if seeds is None or c["seed"] in seeds]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        store = Store(f"sqlite:///{home / 'recall.db'}")
        memory = LongTermMemory(store, embedder, home)
        service = ChatService(settings.model_copy(update={"home": home}), backend=backend, store=store, memory=memory)
        made: dict[tuple, tuple[int, int]] = {}  # one user per seed, so two writers may share a name
        sampling = settings.sampling.model_copy(update={"seed": 7, "temperature": 0.0, "max_tokens": max_tokens})
        try:
            for case in cases:
                key = (case["seed"], case.get("speaker"))
                if key not in made:
                    built = build([read_seed(probes.parent / case["seed"], speaker=case.get("speaker"))])
                    built.persona = manage.review_facts(built.persona, list(range(1, len(built.persona.facts) + 1)), [])
                    uid = store.user_id(f"{case['seed']}:{case.get('speaker')}")
                    made[key] = (uid, create(memory, uid, built))
                uid, pid = made[key]
                live = service.send(uid, case["question"], persona_id=pid, sampling=sampling)
                reply = live.run().text
                prompt = "\n".join(m["content"] for m in live.turn.plan.messages)
                answer = case["answer"].casefold()
                rows.append({"question": case["question"], "answer": case["answer"], "in_prompt": answer in prompt.casefold(),
                             "in_reply": answer in reply.casefold(), "reply": reply.strip()})
        finally:
            store.close()
    return {"probes": len(rows), "personas": len(made),
            "in_prompt": statistics.mean(r["in_prompt"] for r in rows) if rows else 0.0,
            "in_reply": statistics.mean(r["in_reply"] for r in rows) if rows else 0.0, "rows": rows}
