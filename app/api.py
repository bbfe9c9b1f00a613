"""The OpenAI-compatible API under ``/v1``: models, chat completions, embeddings, moderations.

Each persona of the caller is a model (``persona:Grandpa``), beside the raw loaded model. A chat
request goes through ``ChatService.complete``: the same prompt building, memory, safety filter and
storage as the web chat. Every reply carries an extension field, ``keepsake``, with the filter's
verdict and the ids that continue the conversation (send ``conversation_id`` in a later request and
the stored history is used, with the persona's memory). Errors come out in OpenAI's shape,
``{"error": {"message", "type", "param", "code"}}``, with the status OpenAI would use.

Corners cut: one choice per request, text content only (no images, tools or logprobs), and
``finish_reason`` is "length" when the reply used all of ``max_tokens`` (the backends do not say
why they stopped). A streamed reply stops when its client goes away; a non-streamed one runs to
its end.
"""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import AsyncIterator
from datetime import timezone
from typing import Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException

from app.accounts import verify_api_key
from app.core.backends import Message
from app.core.errors import (
    BackendError,
    ContextOverflow,
    EmptyMessage,
    KeepsakeError,
    ModelLoadError,
    ModelNotFound,
    NotFound,
    SettingsError,
    StoreError,
)
from app.core.settings import Sampling
from app.service import WITHDRAWN, ChatService, LiveReply
from memory.schema import Persona as PersonaRow
from personas.persona import Persona
from safety.judges import Verdict
from safety.policy import CATEGORIES, SAFE

log = logging.getLogger(__name__)

PERSONA_PREFIX = "persona:"
# Our policy categories under OpenAI's names where one means the same; the others keep ours.
OPENAI_CATEGORIES = {"violence_weapons": "violence", "crime_fraud": "illicit", "sexual_minors": "sexual/minors",
                     "self_harm": "self-harm"}
# The status for each domain error, looked up along the class hierarchy; anything else is a 400.
STATUSES: dict[type[KeepsakeError], int] = {
    KeepsakeError: 400, EmptyMessage: 400, ContextOverflow: 400, NotFound: 404,
    ModelNotFound: 500, ModelLoadError: 500, SettingsError: 500, BackendError: 502, StoreError: 503,
}


class ApiError(Exception):
    """An error to send as OpenAI's error body."""

    def __init__(self, status: int, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code


def error_body(status: int, message: str, param: str | None = None, code: str | None = None) -> dict:
    kind = "server_error" if status >= 500 else "invalid_request_error"
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def domain_error(exc: KeepsakeError) -> ApiError:
    """A KeepsakeError as an ApiError: ``NotFound`` -> 404 with code ``not_found``, and so on."""
    status = next(STATUSES[c] for c in type(exc).__mro__ if c in STATUSES)
    code = re.sub(r"(?<!^)(?=[A-Z])", "_", type(exc).__name__).lower()
    return ApiError(status, str(exc), code=code)


# -- requests ---------------------------------------------------------------------------------------
# Unknown fields are ignored, not refused: OpenAI clients send options this server has no use for
# (user, presence_penalty, ...) and should still work.


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart] | None = None

    def as_message(self) -> Message:
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content or [])
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class StreamOptions(BaseModel):
    include_usage: bool = False


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    model: str
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    max_completion_tokens: int | None = None
    stop: str | list[str] | None = None
    seed: int | None = None
    n: int = Field(1, ge=1, le=1, description="One choice per request.")
    conversation_id: int | None = Field(None, description="Keepsake extension: continue this stored conversation.")

    def sampling(self, service: ChatService, persona: Persona | None) -> Sampling:
        """The sampler the web chat would use with ``persona``, with this request's choices."""
        try:
            return service.sampling_with(
                persona, temperature=self.temperature, top_p=self.top_p, seed=self.seed,
                max_tokens=self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens,
                stop=[self.stop] if isinstance(self.stop, str) else self.stop)
        except ValidationError as exc:
            problem = exc.errors()[0]
            param = str(problem["loc"][0])
            raise ApiError(400, f"{param}: {problem['msg']}", param=param, code="invalid_value") from None


class EmbeddingRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str]
    model: str = ""
    encoding_format: Literal["float", "base64"] = "float"


class ModerationRequest(BaseModel):
    model_config = ConfigDict(extra="ignore")

    input: str | list[str]
    model: str = ""


# -- who is asking ----------------------------------------------------------------------------------


def get_service(request: Request) -> ChatService:
    return request.app.state.service


def caller(request: Request, service: ChatService = Depends(get_service)) -> int:
    """The user a request acts for: the owner of its bearer key, or the local user when auth is off."""
    if not service.settings.needs_auth:
        return service.store.user_id()
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    uid = verify_api_key(service.store, key.strip()) if scheme.lower() == "bearer" and key.strip() else None
    if uid is None:
        raise ApiError(401, "Incorrect or missing API key; create one with `python -m app users key NAME` "
                            "and send it as 'Authorization: Bearer KEY'.", code="invalid_api_key")
    return uid


router = APIRouter(dependencies=[Depends(caller)])


def model_card(model_id: str, created: int, owned_by: str) -> dict:
    return {"id": model_id, "object": "model", "created": created, "owned_by": owned_by}


def model_cards(service: ChatService, user_id: int, started: int) -> list[dict]:
    """The caller's personas (by name, oldest first), then the raw loaded model."""
    with service.store.session() as s:
        rows = s.execute(select(PersonaRow.name, PersonaRow.created_at).where(PersonaRow.user_id == user_id)
                         .order_by(PersonaRow.created_at)).all()
    # stored as naive UTC: say so, or timestamp() would read it as local time
    cards = [model_card(PERSONA_PREFIX + name, int(created.replace(tzinfo=timezone.utc).timestamp()), "you")
             for name, created in rows]
    return cards + [model_card(service.backend.name, started, "keepsake")]


def resolve_model(service: ChatService, user_id: int, model: str) -> int | None:
    """The persona id that ``model`` names (None for the raw model); 404 for anything else."""
    if model.startswith(PERSONA_PREFIX):
        name = model[len(PERSONA_PREFIX):].casefold()
        with service.store.session() as s:
            rows = s.execute(select(PersonaRow.id, PersonaRow.name).where(PersonaRow.user_id == user_id)).all()
        found = next((pid for pid, n in rows if n.casefold() == name), None)
        if found is not None:
            return found
    elif model == service.backend.name:
        return None
    raise ApiError(404, f"The model {model!r} does not exist or you do not have access to it; GET /v1/models "
                        "lists yours.", param="model", code="model_not_found")


@router.get("/models")
def list_models(request: Request, user_id: int = Depends(caller), service: ChatService = Depends(get_service)) -> dict:
    return {"object": "list", "data": model_cards(service, user_id, request.app.state.started)}


@router.get("/models/{model_id:path}")
def get_model(model_id: str, request: Request, user_id: int = Depends(caller),
              service: ChatService = Depends(get_service)) -> dict:
    resolve_model(service, user_id, model_id)  # 404 unless it is one of the caller's
    cards = model_cards(service, user_id, request.app.state.started)
    return next(c for c in cards if c["id"].casefold() == model_id.casefold())


# -- chat -------------------------------------------------------------------------------------------


def usage(live: LiveReply) -> dict:
    assert live.reply is not None
    return {"prompt_tokens": live.reply.prompt_tokens, "completion_tokens": live.reply.completion_tokens,
            "total_tokens": live.reply.prompt_tokens + live.reply.completion_tokens}


def finish_reason(live: LiveReply) -> str:
    assert live.reply is not None
    return "length" if live.reply.completion_tokens >= live.turn.sampling.max_tokens else "stop"


@router.post("/chat/completions")
def chat_completions(body: ChatRequest, user_id: int = Depends(caller),
                     service: ChatService = Depends(get_service)) -> Any:
    persona_id = resolve_model(service, user_id, body.model)
    if body.conversation_id is not None:
        conversation = service.store.get_conversation(user_id, body.conversation_id)  # 404 for someone else's
        if conversation.persona_id != persona_id:
            raise ApiError(400, f"conversation {body.conversation_id} is not with model {body.model!r}",
                           param="model", code="model_mismatch")
    live = service.complete(user_id, [m.as_message() for m in body.messages], conversation_id=body.conversation_id,
                            persona_id=persona_id,
                            sampling=body.sampling(service, service.persona(user_id, persona_id)))
    head = {"id": f"chatcmpl-{live.message_id}", "created": int(time.time()), "model": body.model}
    if body.stream:
        include_usage = body.stream_options is not None and body.stream_options.include_usage
        return ServerSentEvents(relay(live, head, include_usage))
    live.run()
    return {**head, "object": "chat.completion",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": live.text},
                         "finish_reason": finish_reason(live), "logprobs": None}],
            "usage": usage(live), "keepsake": ChatService.reply_info(live)}


class ServerSentEvents(StreamingResponse):
    """An event stream that is closed however the response ends.

    Starlette cancels the body when the client disconnects (ASGI 2.3 servers, uvicorn today); under
    ASGI 2.4 it only stops reading it, so it is closed here to stop the generation behind it.
    """

    media_type = "text/event-stream"

    def __init__(self, events: AsyncIterator[str]) -> None:
        super().__init__(events, headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        self.events = events

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            await self.events.aclose()  # type: ignore[attr-defined]


def event(data: dict | str) -> str:
    """One server-sent event."""
    return f"data: {data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)}\n\n"


END = object()
REPLY_THREAD = "reply-"  # the threads that generate streamed replies; a stopping server waits for them


async def relay(live: LiveReply, head: dict, include_usage: bool) -> AsyncIterator[str]:
    """The reply as OpenAI chunks. Generation runs in a thread of its own and stops when the client goes.

    The thread checks between pieces whether the client is still there; when it is not, closing the
    reply stores it as interrupted and frees the model for the next request.
    """
    loop = asyncio.get_running_loop()
    pieces: asyncio.Queue[object] = asyncio.Queue()
    gone = threading.Event()

    def produce() -> None:
        reply = iter(live)
        try:
            for piece in reply:
                loop.call_soon_threadsafe(pieces.put_nowait, piece)
                if gone.is_set():
                    break
        except Exception as exc:  # noqa: BLE001 - reported to the client as an error event
            loop.call_soon_threadsafe(pieces.put_nowait, exc)
        finally:
            reply.close()
            loop.call_soon_threadsafe(pieces.put_nowait, END)

    def chunk(delta: dict, finish: str | None = None, **extra: Any) -> str:
        return event({**head, "object": "chat.completion.chunk",
                      "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra})

    threading.Thread(target=produce, name=f"{REPLY_THREAD}{live.message_id}", daemon=True).start()
    failure: Exception | None = None
    try:
        yield chunk({"role": "assistant", "content": ""})
        while (item := await pieces.get()) is not END:
            if isinstance(item, Exception):
                failure = item
            else:
                yield chunk({"content": item})
        if failure is not None:
            error = domain_error(failure) if isinstance(failure, KeepsakeError) else None
            if error is None:
                log.error("reply %s failed", live.message_id, exc_info=failure)
            yield event(error_body(error.status, error.message, code=error.code) if error
                        else error_body(500, "the server failed while generating this reply"))
            return
        if live.replaced:  # the filter withdrew what was streamed: say so, then give the reply that replaces it
            yield chunk({"content": WITHDRAWN + live.text})
        yield chunk({}, finish_reason(live), keepsake=ChatService.reply_info(live))
        if include_usage:
            yield event({**head, "object": "chat.completion.chunk", "choices": [], "usage": usage(live)})
        yield event("[DONE]")
    finally:
        gone.set()


# -- embeddings and moderation -----------------------------------------------------------------------


@router.post("/embeddings")
def embeddings(body: EmbeddingRequest, service: ChatService = Depends(get_service)) -> dict:
    """Vectors from long-term memory's embedder, whatever model the client names (there is one)."""
    if service.memory is None:
        raise ApiError(400, "embeddings come from long-term memory's embedder, and memory is off on this server")
    texts = [body.input] if isinstance(body.input, str) else body.input
    if not texts:
        raise ApiError(400, "input is empty: send a string or a list of strings", param="input", code="invalid_value")
    embedder = service.memory.embedder
    vectors = embedder.embed(texts)

    def encoded(v: Any) -> Any:
        return base64.b64encode(v.astype("<f4").tobytes()).decode() if body.encoding_format == "base64" else v.tolist()

    words = sum(len(t.split()) for t in texts)  # the embedder does not expose its tokenizer: usage counts words
    return {"object": "list", "model": embedder.name,
            "data": [{"object": "embedding", "index": i, "embedding": encoded(v)} for i, v in enumerate(vectors)],
            "usage": {"prompt_tokens": words, "total_tokens": words}}


def moderation_result(verdict: Verdict) -> dict:
    """One input's result in OpenAI's shape: the request head's probability for each policy category.

    A category is flagged as the classifier decides: the request is unsafe (the harmful probabilities
    together pass its threshold) and this is the most likely harmful category.
    """
    names = {c: OPENAI_CATEGORIES.get(c, c) for c in CATEGORIES}
    return {"flagged": verdict.category != SAFE,
            "categories": {names[c]: c == verdict.category for c in CATEGORIES},
            "category_scores": {names[c]: round(verdict.prompt.get(c, 0.0), 6) for c in CATEGORIES}}


@router.post("/moderations")
def moderations(body: ModerationRequest, service: ChatService = Depends(get_service)) -> dict:
    if service.safety is None:
        raise ApiError(400, "the safety filter is off on this server, so there is no classifier to ask")
    judge = service.safety.judge
    texts = [body.input] if isinstance(body.input, str) else body.input
    return {"id": f"modr-{uuid.uuid4().hex}", "model": f"keepsake-{judge.name}",
            "results": [moderation_result(judge.judge(t)) for t in texts]}


# -- the application --------------------------------------------------------------------------------


def validation_error(exc: RequestValidationError) -> ApiError:
    problem = exc.errors()[0]
    if problem["type"] == "json_invalid":
        reason = problem.get("ctx", {}).get("error", "parse error")
        return ApiError(400, f"the request body is not valid JSON ({reason})", code="json_invalid")
    param = ".".join(str(p) for p in problem["loc"][1:]) or None
    if param is None:
        return ApiError(400, "the request body must be a JSON object (Content-Type: application/json)",
                        code="invalid_body")
    return ApiError(400, f"{param}: {problem['msg']}", param=param, code=problem["type"])


class BodyLimit:
    """Refuses request bodies over ``max_bytes`` with 413, announced (Content-Length) or streamed.

    FastAPI's own ``max_body_size`` answers an announced oversized body in plain text, over any
    error handler, and API clients expect OpenAI's error body.
    """

    def __init__(self, app: Any, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        message = f"the request body is larger than this server accepts ({self.max_bytes} bytes)"
        declared = Headers(scope=scope).get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            response = JSONResponse(error_body(413, message, code="request_too_large"), status_code=413)
            return await response(scope, receive, send)
        received = 0

        async def counted() -> Any:
            nonlocal received
            part = await receive()
            received += len(part.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, message)  # FastAPI passes it from the body read to the handlers
            return part

        await self.app(scope, counted, send)


def create_api(service: ChatService) -> FastAPI:
    """The /v1 application, to mount beside the web page; errors all come out in OpenAI's shape."""
    api = FastAPI(title="Keepsake API", docs_url=None, redoc_url=None, openapi_url=None)
    api.add_middleware(BodyLimit, max_bytes=service.settings.api_max_request_bytes)
    api.state.service = service
    api.state.started = int(time.time())
    api.include_router(router)

    def respond(error: ApiError) -> JSONResponse:
        return JSONResponse(error_body(error.status, error.message, error.param, error.code), status_code=error.status)

    @api.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return respond(exc)

    @api.exception_handler(KeepsakeError)
    async def _domain_error(request: Request, exc: KeepsakeError) -> JSONResponse:
        return respond(domain_error(exc))

    @api.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return respond(validation_error(exc))

    @api.exception_handler(HTTPException)
    async def _http(request: Request, exc: HTTPException) -> JSONResponse:  # unknown path, wrong method, too large
        code = "request_too_large" if exc.status_code == 413 else re.sub(r"\W+", "_", str(exc.detail)).lower()
        return respond(ApiError(exc.status_code, str(exc.detail), code=code))

    @api.exception_handler(Exception)
    async def _bug(request: Request, exc: Exception) -> JSONResponse:
        return respond(ApiError(500, "the server failed on this request; its log says why"))

    return api
