"""A backend for any OpenAI-compatible chat server (llama.cpp's llama-server, vLLM, our own /v1).

This moves generation off the web host. Token counts are exact when the server is llama-server
(its ``/apply-template`` and ``/tokenize`` endpoints); other servers do not expose their tokenizer, so
we estimate conservatively (one token per 3 bytes, plus 8 per message) and say so in the README.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx

from app.core.backends import ChatBackend, Message, register
from app.core.errors import BackendError, SettingsError
from app.core.settings import Sampling, Settings


def _estimate(text: str) -> int:
    return len(text.encode("utf-8")) // 3 + 1


class RemoteBackend(ChatBackend):
    """Streams replies from ``{base_url}/chat/completions`` over server-sent events."""

    def __init__(self, base_url: str, *, model: str = "", api_key: str = "", context_size: int = 4096,
                 timeout: float = 600.0) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise SettingsError(f"remote_url must be an http(s) URL ending in /v1, got {base_url!r}")
        self.base_url = base_url.rstrip("/")
        self.name = model or "remote"
        self.model = model
        self.context_size = context_size
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(timeout, connect=10.0))
        self._exact: bool | None = None  # learnt on first use: does the server have llama-server's endpoints?

    def _server_root(self) -> str:
        return self.base_url.removesuffix("/v1")

    def _tokenize(self, text: str) -> int | None:
        if self._exact is False:
            return None
        try:
            r = self._http.post(f"{self._server_root()}/tokenize", json={"content": text}, timeout=10)
            r.raise_for_status()
            self._exact = True
            return len(r.json()["tokens"])
        except (httpx.HTTPError, KeyError, ValueError):
            self._exact = False
            return None

    def count_tokens(self, messages: list[Message]) -> int:
        if self._exact is not False:
            try:
                r = self._http.post(f"{self._server_root()}/apply-template", json={"messages": messages}, timeout=10)
                r.raise_for_status()
                exact = self._tokenize(r.json()["prompt"])
                if exact is not None:
                    return exact
            except (httpx.HTTPError, KeyError, ValueError):
                self._exact = False
        return sum(_estimate(m["content"]) + 8 for m in messages) + 8

    def count_text(self, text: str) -> int:
        exact = self._tokenize(text) if text else 0
        return exact if exact is not None else _estimate(text)

    def stream(self, messages: list[Message], sampling: Sampling, *, json_schema: dict | None = None) -> Iterator[str]:
        body = {
            "model": self.model or "default",
            "messages": messages,
            "stream": True,
            "temperature": sampling.temperature,
            "top_p": sampling.top_p,
            "max_tokens": sampling.max_tokens,
            # Not in OpenAI's API, but llama-server and vLLM read them; others ignore unknown fields.
            "top_k": sampling.top_k,
            "min_p": sampling.min_p,
            "repeat_penalty": sampling.repeat_penalty,
        }
        # word_bias is not sent: OpenAI-style logit_bias takes token ids, which only the server's tokenizer knows.
        if sampling.seed is not None:
            body["seed"] = sampling.seed
        if sampling.stop:
            body["stop"] = list(sampling.stop)
        if json_schema is not None:
            body["response_format"] = {"type": "json_object", "schema": json_schema}
        try:
            with self._http.stream("POST", f"{self.base_url}/chat/completions", json=body) as r:
                if r.status_code >= 400:
                    r.read()
                    raise BackendError(f"remote model server answered {r.status_code}: {r.text[:300]}")
                for line in r.iter_lines():
                    if not line.startswith("data:"):
                        continue
                    data = line[5:].strip()
                    if data == "[DONE]":
                        break
                    event = json.loads(data)
                    if "error" in event:
                        raise BackendError(f"remote model server failed: {event['error']}")
                    choices = event.get("choices") or [{}]
                    text = (choices[0].get("delta") or {}).get("content")
                    if text:
                        yield text
        except httpx.HTTPError as exc:
            raise BackendError(f"cannot reach the remote model server at {self.base_url}: {exc}") from None
        except json.JSONDecodeError:
            raise BackendError(f"the remote model server at {self.base_url} sent a malformed event") from None


@register("remote")
def _remote(settings: Settings) -> ChatBackend:
    if not settings.remote_url:
        raise SettingsError("backend 'remote' needs remote_url (KEEPSAKE_REMOTE_URL or --remote-url)")
    return RemoteBackend(
        settings.remote_url,
        model=settings.remote_model,
        api_key=settings.remote_api_key,
        context_size=settings.remote_n_ctx,
    )
