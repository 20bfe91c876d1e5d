"""What an OpenAI-compatible call costs, and the image sizes OpenAI's models take."""

from __future__ import annotations

#: USD per 1M tokens (input, output), OpenAI's list prices when this was written. A dated
#: variant ("gpt-4o-mini-2024-07-18") takes its family's price (longest "<name>-" prefix).
#: A model not listed (a local Ollama / vLLM model, a newer OpenAI one) costs 0.0: igny8d
#: does not guess a price, so the cost recorded is then only the tokens.
TOKEN_PRICES: dict[str, tuple[float, float]] = {
    "gpt-4o-mini": (0.15, 0.60),
    "gpt-4o": (2.50, 10.00),
    "gpt-4.1": (2.00, 8.00),
    "gpt-4.1-mini": (0.40, 1.60),
    "gpt-4.1-nano": (0.10, 0.40),
    "gpt-4-turbo": (10.00, 30.00),
    "gpt-3.5-turbo": (0.50, 1.50),
    "o3-mini": (1.10, 4.40),
    "o4-mini": (1.10, 4.40),
    "text-embedding-3-small": (0.02, 0.0),
    "text-embedding-3-large": (0.13, 0.0),
    "text-embedding-ada-002": (0.10, 0.0),
}
#: USD per image (square, wide or tall) at standard quality; unknown models 0.0 as above.
IMAGE_PRICES: dict[str, tuple[float, float]] = {
    "dall-e-3": (0.04, 0.08),
    "dall-e-2": (0.02, 0.02),
    "gpt-image-1": (0.042, 0.063),
}


def price_per_million(model: str, table: dict[str, tuple[float, float]] = TOKEN_PRICES
                      ) -> tuple[float, float] | None:
    """The (input, output) price of a model by exact name or family prefix; None if unknown."""
    model = model.strip().lower()
    best: str | None = None
    for name in table:
        if (model == name or model.startswith(name + "-")) and \
                (best is None or len(name) > len(best)):
            best = name
    return None if best is None else table[best]


def token_cost(model: str, prompt_tokens: int, completion_tokens: int) -> float:
    """USD for a call's tokens; 0.0 for a model not in TOKEN_PRICES."""
    price = price_per_million(model)
    if price is None:
        return 0.0
    return round((prompt_tokens * price[0] + completion_tokens * price[1]) / 1_000_000, 8)


def image_size(model: str, width: int, height: int) -> str:
    """The `size` to ask for: the model's nearest supported shape (OpenAI's models take only a
    few), the exact size for any other server."""
    wide, tall = width >= height * 1.25, height >= width * 1.25
    name = model.lower()
    if name.startswith("dall-e-3"):
        return "1792x1024" if wide else "1024x1792" if tall else "1024x1024"
    if name.startswith("gpt-image"):
        return "1536x1024" if wide else "1024x1536" if tall else "1024x1024"
    if name.startswith("dall-e-2"):
        return "1024x1024"
    return f"{width}x{height}"
