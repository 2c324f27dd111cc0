"""Chat models for `--llm`: OpenAI-compatible servers, Ollama, and local GGUF files.

Provider packages (langchain-openai, langchain-ollama, xllamacpp) sit in the `llm` extra and are
imported here only, on first use: the default, extractive path imports none of them.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

from ..config import Settings
from ..errors import ConfigError

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel

_INSTALL = "install the LLM extra: pip install -e '.[llm]'"


def check_llm_settings(settings: Settings) -> None:
    """Cheap checks of the model settings (no import, no connection), so a mistake is reported
    before the index and the embedding model are loaded."""
    provider = settings.llm_provider
    if provider == "openai" and not os.environ.get("OPENAI_API_KEY") and not settings.llm_base_url:
        raise ConfigError(
            "OPENAI_API_KEY is not set: export it, or point --llm-base-url at an OpenAI-compatible server"
        )
    if provider == "gguf":
        from .gguf import check_gguf

        check_gguf(settings.llm_model)


def make_chat_model(settings: Settings) -> BaseChatModel:
    """The LangChain chat model ``settings.llm`` names (a gguf: file is served on first use)."""
    check_llm_settings(settings)
    provider, model = settings.llm_provider, settings.llm_model
    if provider == "openai":
        key = os.environ.get("OPENAI_API_KEY")
        return _openai(model, settings.llm_base_url, key or "not-needed", settings)
    if provider == "ollama":
        try:
            from langchain_ollama import ChatOllama
        except ImportError as exc:
            raise ConfigError(f"--llm ollama:… needs langchain-ollama: {_INSTALL}") from exc
        return ChatOllama(
            model=model,
            base_url=settings.llm_base_url or "http://127.0.0.1:11434",
            temperature=settings.llm_temperature,
            num_predict=settings.llm_max_tokens,
            client_kwargs={"timeout": settings.llm_timeout},
        )
    if provider == "gguf":
        from .gguf import serve

        server = serve(model, threads=settings.llm_threads)
        return _openai("local", server.address + "/v1", "local", settings)
    raise ConfigError(f"no language model configured (llm={settings.llm!r})")


def _openai(model: str, base_url: str | None, key: str, settings: Settings) -> BaseChatModel:
    try:
        from langchain_openai import ChatOpenAI
    except ImportError as exc:
        raise ConfigError(f"--llm openai:… needs langchain-openai: {_INSTALL}") from exc
    return ChatOpenAI(
        model=model,
        base_url=base_url,
        api_key=key,  # type: ignore[arg-type]
        temperature=settings.llm_temperature,
        max_completion_tokens=settings.llm_max_tokens,
        timeout=settings.llm_timeout,
        max_retries=0,  # a retry would double the wait the user was promised
    )
