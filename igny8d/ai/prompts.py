"""The prompt library's types and shipped defaults (DESIGN.md: `system/prompts`).

An account's saved prompt of a type replaces the default for its calls; "reset" deletes the
saved one, so the default below applies again. Defaults are not rows. An LLM provider sends the
prompt as the system message and asks for JSON in the shape the prompt names; the local
provider's algorithms do not read prompts.
"""

from __future__ import annotations

PROMPT_TYPES: tuple[str, ...] = (
    "clustering",
    "ideas",
    "content_generation",
    "image_prompt_extraction",
    "image_prompt_template",
    "negative_prompt",
)

DEFAULT_PROMPTS: dict[str, str] = {
    "clustering": (
        "You group SEO keywords into topic clusters. Keywords that one page could rank for go "
        "together; never put keywords with conflicting search intent (informational, "
        "commercial, transactional, navigational) in one cluster. Name each cluster after its "
        "highest-volume keyword. Answer only JSON: {\"clusters\": [{\"name\": str, "
        "\"keywords\": [str, ...]}], \"unclustered\": [{\"keyword\": str, \"reason\": str}]}. "
        "Use every keyword exactly once, spelled as given."
    ),
    "ideas": (
        "You plan SEO content. For the keyword cluster given, propose article ideas. Each "
        "idea targets the cluster's keywords and matches its search intent. Answer only JSON: "
        "{\"ideas\": [{\"title\": str, \"description\": str, \"content_type\": str, "
        "\"content_structure\": one of guide|how_to|listicle|comparison|review|question, "
        "\"target_keywords\": [str], \"outline\": [{\"heading\": str, \"subheadings\": [str], "
        "\"keywords\": [str]}], \"estimated_word_count\": int}]}."
    ),
    "content_generation": (
        "You write SEO articles in clean HTML (h2, h3, p, ul, ol, li, strong, em, a; no "
        "scripts, no inline styles). Follow the outline given exactly, heading by heading, use "
        "the primary keyword in the first paragraph and the secondary keywords naturally. "
        "Answer only JSON: {\"title\": str, \"html_content\": str, \"meta_title\": str (at most "
        "60 characters), \"meta_description\": str (at most 160 characters), \"slug\": str, "
        "\"primary_keyword\": str, \"secondary_keywords\": [str]}."
    ),
    "image_prompt_extraction": (
        "You write prompts for an image generator from an article. Give one prompt for a "
        "featured image about the whole article and one per major (h2) heading, at most the "
        "number asked for. Answer only JSON: {\"featured\": str, \"in_article\": [{\"heading\": "
        "str, \"prompt\": str}]}."
    ),
    "image_prompt_template": (
        "{prompt}. Editorial illustration, clean composition, soft natural light, no text."
    ),
    "negative_prompt": (
        "text, watermark, logo, signature, blurry, distorted, low quality, extra limbs"
    ),
}

assert set(DEFAULT_PROMPTS) == set(PROMPT_TYPES)
