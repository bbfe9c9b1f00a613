"""The durable chat flow shared by the CLI, the web UI and the API.

``ChatService.send`` plans the turn (prompt budget, summary of old turns, recalled memories), stores
the user's message (committed before generation starts), creates the reply row as ``streaming``,
and returns a ``LiveReply``: iterating it streams the reply, saving the partial text about twice a
second, and marks the row ``complete`` at the end or ``interrupted`` if generation stops early
(client gone, error, stop button). A completed exchange becomes a long-term memory. The model and
the embedder are loaded on first use.
"""

from __future__ import annotations

import copy
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

from app.core.backends import ChatBackend, Message
from app.core.chat import ChatEngine, Reply, Turn, blank
from app.core.errors import EmptyMessage, KeepsakeError, NotFound
from app.core.loading import load_backend
from app.core.settings import Sampling, Settings
from memory.embedder import load_embedder
from memory.memories import LongTermMemory
from memory.store import ConversationRecord, MessageRecord, Store
from memory.summaries import fold_count, summarize
from personas import persona as personas
from personas import prompting as persona_prompt
from personas.persona import Persona
from safety.baseline import PreviousJudge
from safety.cross_encoder import CrossEncoderJudge
from safety.filter import Outcome, SafetyFilter
from safety.intent import sentence_embedder
from safety.judges import EmbeddingJudge, Judge, LLMJudge
from safety.policy import SAFE
from safety.second_reading import chat_judge

PARTIAL_SAVE_S = 0.5
# A small model sometimes ends its turn at once (6 of 240 fine-tuned Byron replies in the fidelity run
# were empty); another draw almost always writes something, and an empty bubble helps nobody.
EMPTY_RETRIES = 2
# With a fixed seed, a retry of an empty reply draws at seed + 1, + 2; an alternative steps the seed
# in thousands so that regenerating never draws a retry's seed again (it once gave the same reply back).
ALTERNATIVE_SEED_STEP = 1000
WITHDRAWN = "\n\n[withdrawn by the safety filter]\n"  # streamed before the text that replaces a withdrawn reply


def follows_support(thread: list[MessageRecord]) -> bool:
    """Whether the next user message in ``thread`` answers the filter's support message (the thread ends with one)."""
    return bool(thread) and thread[-1].role == "assistant" and thread[-1].safety_action == "supported"


class LiveReply:
    """A reply being generated, filtered and persisted. Iterate for text pieces; then read ``reply``.

    With the safety filter in ``hold`` mode nothing is yielded until the reply has been judged (then
    the chosen text comes as one piece); in ``stream`` mode pieces come as generated and, if the
    filter withdraws the reply, ``replaced`` is set and ``text`` holds what to show instead.
    """

    def __init__(self, service: ChatService, turn: Turn, user_id: int, conversation: ConversationRecord,
                 user_message: MessageRecord, message_id: int, persona: Persona | None = None,
                 after_support: bool = False) -> None:
        self.service, self.turn, self.user_id = service, turn, user_id
        self.conversation, self.user_message, self.message_id = conversation, user_message, message_id
        self.persona = persona
        self.after_support = after_support  # the user's message answers the filter's support message
        self.reply: Reply | None = None
        self.outcome: Outcome | None = None
        self.replaced = False
        self.text = ""

    @property
    def conversation_id(self) -> int:
        return self.conversation.id

    def _regenerate(self, instruction: str) -> str:
        """Another attempt at this reply, with ``instruction`` read just before the user's message."""
        plan = copy.deepcopy(self.turn.plan)
        plan.messages[-1]["content"] = f"[{instruction}]\n\n{plan.messages[-1]['content']}"
        self.turn = Turn(self.turn.backend, plan, self.turn.sampling)
        return self.turn.run().text

    def _retry_empty(self) -> str:
        """Draw again while the finished reply is empty (another seed when the sampler has a fixed one)."""
        for attempt in range(1, EMPTY_RETRIES + 1):
            if not blank(self.turn.text):
                break
            sampling = self.turn.sampling
            if sampling.seed is not None:
                sampling = sampling.model_copy(update={"seed": sampling.seed + attempt})
            self.turn = Turn(self.turn.backend, self.turn.plan, sampling)
            self.turn.run()
        return self.turn.text

    def __iter__(self) -> Iterator[str]:
        store = self.service.store
        safety = self.service.safety
        if safety is not None and self.persona is not None:
            safety = safety.for_persona(self.persona.safety)
        saved_at = time.monotonic()
        status = "interrupted"
        shown = ""
        try:
            source: Iterator[str] = iter(self.turn)
            # A request the judge already finds unsafe is held even in stream mode: nothing of a
            # likely-harmful reply reaches the screen before it is scored.
            hold = safety is not None and (safety.settings.safety_mode == "hold"
                                           or safety.judge.judge(self.user_message.content).category != SAFE)
            if safety is not None and not hold:
                source = safety.watch(self.user_message.content, source)
            for piece in source:
                if not hold:
                    shown += piece
                    yield piece
                if time.monotonic() - saved_at > PARTIAL_SAVE_S:
                    store.save_partial(self.message_id, self.turn.text)
                    saved_at = time.monotonic()
            if blank(self.turn.text) and not blank(self._retry_empty()) and not hold:
                shown += self.turn.text
                yield self.turn.text
            self.text = self.turn.text
            if safety is not None:
                address = (self.persona.style.get("forms_of_address") or [""])[0] if self.persona else ""
                self.outcome = safety.review(self.user_message.content, self.turn.text, self._regenerate,
                                             name=self.persona.name if self.persona else "", address=address,
                                             after_support=self.after_support)
                self.text = self.outcome.text
                if hold:
                    yield self.text
                elif self.text != shown:
                    self.replaced = True
            status = "complete"
        finally:
            result = self.turn.result()
            text = self.text or self.turn.text
            self.reply = replace(result, text=text, completion_tokens=self.turn.backend.count_text(text))
            store.finish_message(
                self.message_id,
                text,
                status=status,
                token_count=self.reply.completion_tokens,
                prompt_tokens=self.reply.prompt_tokens,
                ttft_ms=round(self.reply.ttft_s * 1000, 1),
                total_ms=round(self.reply.total_s * 1000, 1),
                **(self.outcome.audit() if self.outcome else {}),
            )
        self.service.remember_turn(self)

    def run(self) -> Reply:
        """Generate the whole reply without streaming."""
        for _ in self:
            pass
        assert self.reply is not None
        return self.reply


class ChatService:
    """Settings, model, store, memory and engine together; one instance serves every user."""

    def __init__(self, settings: Settings, *, backend: ChatBackend | None = None, store: Store | None = None,
                 memory: LongTermMemory | None = None, safety: SafetyFilter | None = None) -> None:
        self.settings = settings
        self._backend = backend
        self._memory = memory
        self._safety = safety
        self._load_lock = threading.RLock()
        self.store = store or Store(settings.db_url)

    def _loaded(self, attribute: str, factory: Callable[[], Any]) -> Any:
        """``self.<attribute>``, made by ``factory`` on first use, once even with concurrent callers.

        The lock is re-entrant because one part's factory may load another (the safety judge shares
        the memory's embedder).
        """
        if getattr(self, attribute) is None:
            with self._load_lock:
                if getattr(self, attribute) is None:
                    setattr(self, attribute, factory())
        return getattr(self, attribute)

    @property
    def backend(self) -> ChatBackend:
        """The chat model, loaded on first use (so commands that need no model start fast)."""
        return self._loaded("_backend", lambda: load_backend(self.settings))

    @property
    def memory(self) -> LongTermMemory | None:
        """Long-term memory, or None when ``settings.memory`` is off."""
        if not self.settings.memory:
            return None
        return self._loaded("_memory", lambda: LongTermMemory(self.store, load_embedder(self.settings.embedder),
                                                              self.settings.home))

    def warm_up(self) -> None:
        """Load the model and the embedding model now rather than on the first message."""
        self.backend
        if self.memory is not None and hasattr(self.memory.embedder, "loaded"):
            self.memory.embedder.embed(["warm-up"])

    @property
    def safety(self) -> SafetyFilter | None:
        """The safety filter (None when switched off); its judge loads on first use."""
        if not self.settings.safety:
            return None
        return self._loaded("_safety", self._make_filter)

    def _make_filter(self) -> SafetyFilter:
        topic = self._topic_judge()
        second = topic if isinstance(topic, CrossEncoderJudge) else CrossEncoderJudge()
        # The cross-encoder reads every request beside the topic judge, and a reply to a safe request only when the
        # filter would draw it again (``SafetyFilter.cleared``).
        return SafetyFilter(chat_judge(topic, second), self.settings.safety_settings,
                            confirm=None if second is topic else second)

    def _topic_judge(self) -> Judge:
        if self.settings.safety_judge == "llm":
            from app.core.llama import LlamaCppBackend

            model = self.settings.safety_judge_model
            backend = LlamaCppBackend(model, n_ctx=4096) if model else self.backend
            if not isinstance(backend, LlamaCppBackend):
                raise KeepsakeError("the llm safety judge needs a local GGUF model (safety_judge_model)")
            return LLMJudge(backend.llm, backend.borrow)
        # The classifiers were trained on the packaged all-MiniLM-L6-v2's embeddings. They are computed from the model the
        # intent detectors share (``safety.intent.sentence_embedder``), whose lower layers those have already run over
        # the request: a turn's filter costs one half-model pass less than with memory's embedder.
        embedder = sentence_embedder()
        # The reply-reader scores better on held-out jailbreak replies, but classes short, warm companion
        # replies as disallowed (C 0.7-0.9 on "Of course, love. Tell me about her."), which would turn safe
        # conversations into refusals; the default stays the judge the companion suite was measured with.
        if self.settings.safety_judge == "cross-encoder":
            return CrossEncoderJudge(embedder)
        return EmbeddingJudge(embedder) if self.settings.safety_judge == "reply-reader" else PreviousJudge(embedder)

    def engine(self, persona: Persona | None = None) -> ChatEngine:
        """The chat engine for this persona's replies: on its fine-tuned adapter when it has one that loads."""
        backend = self.backend
        if persona is not None and persona.lora_path:
            from app.core.llama import backend_for

            backend = backend_for(backend, persona)
        return ChatEngine(backend, self.settings.sampling)

    def persona_sampling(self, persona: Persona | None) -> Sampling:
        """The sampler when a request names none: the settings, with a seed-built persona's defaults
        for what the user did not set (``persona_prompt.sampling``)."""
        return persona_prompt.sampling(persona, self.settings.sampling, self.settings.model_fields_set)

    def persona(self, user_id: int, persona_id: int | None) -> Persona | None:
        """The user's persona (NotFound for someone else's), or None for a chat without one."""
        return personas.get(self.store, user_id, persona_id) if persona_id is not None else None

    def system_prompt(self, persona: Persona | None) -> str:
        """The stable system message: the persona's, or the configured default."""
        return persona_prompt.system_prompt(persona) if persona else self.settings.system_prompt

    def start_conversation(self, user_id: int, persona_id: int | None = None, title: str = "New chat") -> ConversationRecord:
        """A new conversation, opened by the real-person disclosure and the persona's greeting when they apply."""
        persona = self.persona(user_id, persona_id)
        conv = self.store.create_conversation(user_id, persona_id, title)
        if persona and persona.real_person:
            self.store.add_message(user_id, conv.id, "notice", persona_prompt.disclosure(persona))
        if persona and persona.greeting:
            self.store.add_message(user_id, conv.id, "assistant", persona_prompt.fill(persona.greeting, persona),
                                   model="greeting")
        return self.store.get_conversation(user_id, conv.id)

    @staticmethod
    def history(thread: list[MessageRecord]) -> list[Message]:
        """Stored messages as model messages; empty interrupted replies are skipped."""
        return [
            {"role": m.role, "content": m.content}  # type: ignore[typeddict-item]
            for m in thread
            if m.role in ("user", "assistant") and m.content
        ]

    # -- memory ---------------------------------------------------------------------------------

    def recall(self, user_id: int, persona_id: int | None, text: str, visible: list[MessageRecord],
               conversation_id: int | None = None) -> list[str]:
        """Memories relevant to ``text``, leaving out this conversation's own turns.

        They are in view, folded into its summary, or on a branch the user left (a regenerated reply
        or an edited message): recalling them would repeat or resurrect them.
        """
        memory = self.memory
        if memory is None or self.settings.memory_k == 0 or not memory.has_any(persona_id, user_id):
            return []  # nothing to recall: do not load the embedding model for nothing
        own = self.store.message_ids(user_id, conversation_id) if conversation_id is not None else []
        hits = memory.search(text, persona_id=persona_id, user_id=user_id, k=self.settings.memory_k,
                             min_score=self.settings.memory_min_score,
                             exclude_texts=[m.content for m in visible],
                             exclude_message_ids=[*own, *(m.id for m in visible)])
        return [h.text for h in hits]

    def remember_turn(self, live: LiveReply) -> None:
        """Keep a finished exchange as a long-term memory of this user and persona."""
        memory = self.memory
        if memory is None or live.reply is None or live.reply.interrupted or not live.reply.text.strip():
            return
        text = f"User: {live.user_message.content}\nAssistant: {live.reply.text.strip()}"
        # A long-running server has the embedder loaded and indexes at once; a one-shot command
        # stores the text and leaves the embedding to the next index build.
        memory.add([text], persona_id=live.conversation.persona_id, user_id=live.user_id, kind="turn",
                   source_message_id=live.message_id, embed=getattr(memory.embedder, "loaded", True))

    # -- turns ----------------------------------------------------------------------------------

    def _plan(self, user_id: int, conv: ConversationRecord | None, persona_id: int | None, persona: Persona | None,
              text: str, thread: list[MessageRecord], sampling: Sampling, extra_system: str = "") -> Turn:
        """Plan the turn; when old history would be dropped, fold it into a summary first.

        The fold happens before generating, so the model never loses what was said: it reads a
        summary of the oldest turns instead of nothing. The summary also becomes a memory.
        """
        self.backend  # load the model first: a bad model file should fail before the embedder loads
        system = self.request_system(persona, extra_system)
        summary, covered = self.store.latest_summary(user_id, conv.id, thread) if conv else ("", 0)
        recent = thread[covered:]
        lore = persona_prompt.triggered_lore(persona, [text, *(m.content for m in thread[-2:])]) if persona else []
        memories = lore + [m for m in self.recall(user_id, persona_id, text, recent, conv.id if conv else None)
                           if m not in lore]
        instructions = persona_prompt.fill(persona.post_history_instructions, persona) if persona else ""
        examples = persona_prompt.example_turns(persona) if persona else []

        engine = self.engine(persona)

        def start(summary: str, history: list[MessageRecord]) -> Turn:
            return engine.start(system=system, user=text, summary=summary, history=self.history(history),
                                memories=memories, instructions=instructions, examples=examples, sampling=sampling)

        turn = start(summary, recent)
        if turn.plan.history_dropped == 0 or conv is None:
            return turn
        fold = recent[: fold_count(len(recent), turn.plan.history_dropped)]
        summary, _ = summarize(self.backend, summary, self.history(fold))
        self.store.add_summary(user_id, conv.id, fold[-1].id, summary)
        if self.memory is not None:
            self.memory.add([summary], persona_id=persona_id, user_id=user_id, kind="summary")
        return start(summary, recent[len(fold):])

    def send(self, user_id: int, text: str, *, conversation_id: int | None = None, persona_id: int | None = None,
             sampling: Sampling | None = None, parent_id: int | None = -1, extra_system: str = "") -> LiveReply:
        """Store ``text`` as the user's next message and start the reply.

        ``parent_id`` (default: the conversation's current head) lets an edited message branch off
        an earlier point. Bad input (empty or oversized message) raises before anything is stored.
        ``extra_system`` is an API client's system message for this turn only (see ``request_system``).
        """
        store = self.store
        conv = store.get_conversation(user_id, conversation_id) if conversation_id is not None else None
        if conv is not None:
            persona_id = conv.persona_id
            if conv.state != "active":
                raise KeepsakeError(f"this conversation is {conv.state}; "
                                    + ("resume it to go on" if conv.state == "paused" else "start a new one"))
        persona = self.persona(user_id, persona_id)  # NotFound for someone else's, before anything is stored
        created = conv is None
        if created:
            # The greeting belongs to the history the model sees, so the conversation is opened
            # first, and removed again if the message turns out not to fit.
            if not text.strip():
                raise EmptyMessage("the message is empty; type something to say")
            conv = self.start_conversation(user_id, persona_id, " ".join(text.split())[:60])
        upto = conv.head_id if parent_id == -1 or created else parent_id
        thread = store.thread(user_id, conv.id, upto=upto) if upto is not None else []
        sampling = sampling or self.persona_sampling(persona)
        try:
            turn = self._plan(user_id, conv, persona_id, persona, text, thread, sampling, extra_system)
        except KeepsakeError:
            if created:
                store.delete_conversation(user_id, conv.id)
            raise
        user_msg = store.add_message(user_id, conv.id, "user", text, parent_id=upto,
                                     token_count=self.backend.count_text(text))
        reply = store.add_message(user_id, conv.id, "assistant", "", status="streaming",
                                  model=turn.backend.name, sampling=sampling.model_dump())
        return LiveReply(self, turn, user_id, conv, user_msg, reply.id, persona, follows_support(thread))

    def regenerate(self, user_id: int, conversation_id: int, sampling: Sampling | None = None) -> LiveReply:
        """A new alternative to the last reply; the old one is kept as a sibling."""
        thread = self.store.thread(user_id, conversation_id)
        last_user = next((m for m in reversed(thread) if m.role == "user"), None)
        if last_user is None:
            raise NotFound("nothing to regenerate: the conversation has no message yet")
        conv = self.store.get_conversation(user_id, conversation_id)
        if conv.state != "active":
            raise KeepsakeError(f"this conversation is {conv.state}")
        sampling = sampling or self.persona_sampling(self.persona(user_id, conv.persona_id))
        if sampling.seed is not None:  # a fixed seed would give the same reply again: step it per alternative
            tries = len(self.store.alternatives(user_id, thread[-1].id)) if thread[-1].role == "assistant" else 0
            sampling = sampling.model_copy(update={"seed": sampling.seed + ALTERNATIVE_SEED_STEP * tries})
        persona = self.persona(user_id, conv.persona_id)
        earlier = thread[: thread.index(last_user)]
        turn = self._plan(user_id, conv, conv.persona_id, persona, last_user.content, earlier, sampling)
        reply = self.store.add_message(user_id, conversation_id, "assistant", "", parent_id=last_user.id,
                                       status="streaming", model=turn.backend.name, sampling=sampling.model_dump())
        return LiveReply(self, turn, user_id, conv, last_user, reply.id, persona, follows_support(earlier))

    def edit(self, user_id: int, message_id: int, text: str, sampling: Sampling | None = None) -> LiveReply:
        """Replace a user message with ``text`` and continue from there; the old branch is kept."""
        original = self.store.get_message(user_id, message_id)
        if original.role != "user":
            raise KeepsakeError("only your own messages can be edited; regenerate a reply instead")
        return self.send(user_id, text, conversation_id=original.conversation_id, sampling=sampling,
                         parent_id=original.parent_id)

    def persona_id(self, user_id: int, name: str) -> int:
        """The id of the user's persona called ``name``."""
        return personas.find(self.store, user_id, name)[0]

    # -- API requests ---------------------------------------------------------------------------

    def sampling_with(self, persona: Persona | None = None, **chosen: Any) -> Sampling:
        """The sampler a web chat would use with ``persona`` (the persona's reply length and words included),
        with a client's choices on top (None keeps the default), checked against its bounds.

        Raises pydantic's ValidationError for a value out of range (a negative ``max_tokens``).
        """
        defaults = self.persona_sampling(persona).model_dump()
        return Sampling.model_validate({**defaults, **{k: v for k, v in chosen.items() if v is not None}})

    @staticmethod
    def reply_info(live: LiveReply) -> dict:
        """What an API client learns of a finished reply besides its text: the safety verdict and the
        ids that continue the conversation."""
        verdict = {k.removeprefix("safety_"): v for k, v in live.outcome.audit().items()} if live.outcome else None
        return {"verdict": verdict, "conversation_id": live.conversation_id, "message_id": live.message_id,
                "replaced": live.replaced}

    def request_system(self, persona: Persona | None, extra: str = "") -> str:
        """The system message when a client brings its own: a persona keeps its prompt and the client's
        follows it (the persona stays who it is); without a persona the client's replaces the default."""
        extra = extra.strip()
        if not extra:
            return self.system_prompt(persona)
        return f"{self.system_prompt(persona)}\n\n{extra}" if persona else extra

    def complete(self, user_id: int, messages: list[Message], *, conversation_id: int | None = None,
                 persona_id: int | None = None, sampling: Sampling | None = None) -> LiveReply:
        """Answer the last of ``messages``, as an OpenAI-style request asks.

        System messages are joined and passed to ``request_system``. With ``conversation_id`` the
        stored conversation is the history and only the last message is new. Without it the request's
        messages are the history: they are stored as a new conversation (no greeting: the client never
        saw one), so the reply is persisted, filtered and remembered like a web chat's, and the
        conversation can be continued by id.
        """
        system = "\n\n".join(m["content"] for m in messages if m["role"] == "system")
        chat = [m for m in messages if m["role"] != "system"]
        if not chat or chat[-1]["role"] != "user":
            raise KeepsakeError("the last message must be the user's: it is the one to answer")
        *earlier, last = chat
        if conversation_id is not None:
            return self.send(user_id, last["content"], conversation_id=conversation_id, sampling=sampling,
                             extra_system=system)
        conv = self.store.create_conversation(user_id, persona_id, " ".join(last["content"].split())[:60])
        try:
            for m in earlier:
                self.store.add_message(user_id, conv.id, m["role"], m["content"],
                                       token_count=self.backend.count_text(m["content"]))
            return self.send(user_id, last["content"], conversation_id=conv.id, sampling=sampling,
                             extra_system=system)
        except KeepsakeError:  # bad input (empty, too long, someone else's persona): leave nothing behind
            self.store.delete_conversation(user_id, conv.id)
            raise
