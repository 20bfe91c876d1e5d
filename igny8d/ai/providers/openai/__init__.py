"""The OpenAI-compatible provider: OpenAI itself, or a local Ollama, vLLM or llama.cpp server.

Any server with OpenAI's `/chat/completions`, `/embeddings`, `/images/generations` and
`/models` under a base URL (`ProviderConfig.base_url`, key optional). Modules: `provider`
(`OpenAIProvider`, the contract's methods), `transport` (HTTP, retries, readable errors),
`wire` (the answers' shapes), `answers` (answers made into the contract's values), `prices`
(what a call costs). Importing it loads no Tornado: the HTTP client is imported with the first
request.
"""

from igny8d.ai.providers.openai.prices import (
    IMAGE_PRICES,
    TOKEN_PRICES,
    image_size,
    price_per_million,
    token_cost,
)
from igny8d.ai.providers.openai.provider import (
    IMAGE_BRIEF_TEXT,
    MAX_EMBEDDING_BATCH,
    OpenAIProvider,
)
from igny8d.ai.providers.openai.transport import (
    BACKOFF_BASE_S,
    BACKOFF_CAP_S,
    MAX_IMAGE_BYTES,
    MAX_RESPONSE_BYTES,
    RETRY_AFTER_CAP_S,
)

__all__ = [
    "BACKOFF_BASE_S", "BACKOFF_CAP_S", "IMAGE_BRIEF_TEXT", "IMAGE_PRICES", "MAX_EMBEDDING_BATCH",
    "MAX_IMAGE_BYTES", "MAX_RESPONSE_BYTES", "RETRY_AFTER_CAP_S", "TOKEN_PRICES",
    "OpenAIProvider", "image_size", "price_per_million", "token_cost",
]
