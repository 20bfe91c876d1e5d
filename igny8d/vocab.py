"""The domain's words: the choices every layer shares (search intents, content types and
structures) and the limits the AI steps and the API agree on. No imports of igny8d: the API
schemas, the services and the AI algorithms all read them from here."""

from __future__ import annotations

from typing import Literal, get_args

#: Why someone searches (a keyword's intent), in precedence order: when cues of several
#: intents meet, the first listed wins.
Intent = Literal["transactional", "commercial", "navigational", "informational"]
INTENT_PRECEDENCE: tuple[Intent, ...] = get_args(Intent)

#: What kind of page a piece of content is (ideas and tasks).
ContentType = Literal["blog_post", "article", "guide", "landing_page", "product_page",
                      "comparison"]
#: How a piece of content is built (ideas and tasks).
ContentStructure = Literal["guide", "how_to", "listicle", "comparison", "review", "news",
                           "pillar", "faq"]
CONTENT_TYPES: tuple[str, ...] = get_args(ContentType)
CONTENT_STRUCTURES: tuple[str, ...] = get_args(ContentStructure)

#: Target keywords of one idea (and keywords of one outline section).
MAX_TARGET_KEYWORDS = 50
#: Items (H2s and H3s) of one idea's outline.
MAX_OUTLINE_ITEMS = 100
