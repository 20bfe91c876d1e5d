"""The providers, and which one serves an account: `provider_for(config, settings)`.

No configuration, or kind "local", is the offline local provider (its clustering cap is the
`local_cluster_max_ids` setting); with the `embedding_model_path` setting it also embeds, in
process (`embedded.EmbeddedProvider`; sentence-transformers is imported on the first embedding,
never here). Kind "openai" is the OpenAI-compatible provider; when its
configuration names no image model, its images are rendered by the local provider. Both
providers are imported here lazily: this module (and so the services importing it) loads
neither Tornado nor the local provider's renderer until a provider is asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from igny8d.ai.types import LlmOptions, Provider, ProviderConfig

if TYPE_CHECKING:
    from igny8d.settings import Settings


def provider_for(config: ProviderConfig | None, settings: Settings) -> Provider:
    """The provider for an account's configuration (None: the local default)."""
    from igny8d.ai.providers.local import LocalProvider

    if config is None or config.kind == "local":
        if settings.embedding_model_path:
            from igny8d.ai.providers.embedded import EmbeddedProvider

            return EmbeddedProvider(settings.embedding_model_path,
                                    max_cluster_ids=settings.local_cluster_max_ids)
        return LocalProvider(max_cluster_ids=settings.local_cluster_max_ids)
    if config.kind == "openai":
        from igny8d.ai.providers.openai import OpenAIProvider

        images = None if config.image_model else \
            LocalProvider(max_cluster_ids=settings.local_cluster_max_ids)
        return OpenAIProvider(config, images=images, options=LlmOptions.from_settings(settings))
    raise ValueError(f"unknown provider kind {config.kind!r}")
