"""The local provider's generators as pure functions: ideas (structure, titles, outline
coverage), article drafts (outline followed, keywords placed, meta, slug, sanitiser-clean
HTML), image prompts (per h2, template honoured) and PNG rendering — and that each is
deterministic whatever the order of its input."""

from __future__ import annotations

import csv
import io
import random
import re
from collections import defaultdict
from html.parser import HTMLParser

import pytest
from PIL import Image

from igny8d.ai import KeywordItem, generate_article, generate_ideas, image_prompts, render_image
from igny8d.ai.article import draft_note, meta_description, meta_title
from igny8d.ai.article import slug as slugify
from igny8d.ai.ideas import MAX_IDEAS, plan_keywords, rank_structures, title_case
from igny8d.ai.imaging import apply_template, h2_headings
from igny8d.ai.prompts import DEFAULT_PROMPTS
from igny8d.ai.types import (
    ArticleBrief,
    ClusterBrief,
    ImageBrief,
    ImageRequest,
    OutlineSection,
    ProviderError,
)
from igny8d.schemas.planner_clusters import CONTENT_STRUCTURES, CONTENT_TYPES
from igny8d.text import sanitize_html, word_count
from tests.helpers.gold import GOLD

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _cluster(*keywords: tuple[str, int], name: str | None = None) -> ClusterBrief:
    items = tuple(KeywordItem(i + 1, text, volume) for i, (text, volume) in enumerate(keywords))
    return ClusterBrief(1, name or max(keywords, key=lambda k: k[1])[0], items)


def _gold_clusters() -> dict[str, ClusterBrief]:
    with GOLD.open(newline="") as f:
        rows = list(csv.DictReader(f))
    by: dict[str, list[tuple[str, int]]] = defaultdict(list)
    for r in rows:
        by[f"{r['niche']}/{r['cluster']}"].append((r["keyword"], int(r["volume"])))
    return {key: _cluster(*kws) for key, kws in sorted(by.items())}


GRINDER = _cluster(("coffee grinder", 40500), ("best coffee grinder", 33100),
                   ("coffee grinders", 9900), ("coffee grinder reviews", 1300),
                   ("top coffee grinders 2024", 880), ("buy coffee grinder", 720),
                   ("cheap coffee grinder", 590), ("grinder for coffee beans", 320),
                   ("conical burr coffee grinder", 300), ("best conical burr grinder", 200))


def _shuffled(cluster: ClusterBrief, seed: int) -> ClusterBrief:
    items = list(cluster.keywords)
    random.Random(seed).shuffle(items)
    return ClusterBrief(cluster.cluster_id, cluster.name, tuple(items))


class _Headings(HTMLParser):
    """(tag, text) of every h2/h3, and each heading's following text up to the next one."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.headings: list[tuple[str, str]] = []
        self.text: list[str] = [""]
        self.tag: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in ("h2", "h3"):
            self.tag = tag
            self.headings.append((tag, ""))
            self.text.append("")

    def handle_endtag(self, tag: str) -> None:
        if tag == self.tag:
            self.tag = None

    def handle_data(self, data: str) -> None:
        if self.tag:
            tag, text = self.headings[-1]
            self.headings[-1] = (tag, text + data)
        else:
            self.text[-1] += data


def _parse(html: str) -> _Headings:
    parser = _Headings()
    parser.feed(html)
    parser.close()
    return parser


# -- ideas ---------------------------------------------------------------------------------------


def test_ideas_are_deterministic_whatever_the_keyword_order() -> None:
    first = generate_ideas(GRINDER, 3)
    assert generate_ideas(GRINDER, 3) == first
    for seed in range(5):
        assert generate_ideas(_shuffled(GRINDER, seed), 3) == first


def test_every_cluster_keyword_lands_in_the_outline_of_every_idea() -> None:
    """Over the whole gold set: all keywords covered, distinct structures, valid choices."""
    clusters = _gold_clusters()
    assert len(clusters) > 100
    for key, cluster in clusters.items():
        ideas = generate_ideas(cluster, 3)
        assert len(ideas) == 3, key
        assert len({i.content_structure for i in ideas}) == 3, key
        assert len({i.title for i in ideas}) == 3, key
        wanted = {k.text for k in cluster.keywords}
        for idea in ideas:
            covered = [k for s in idea.outline for k in s.keywords]
            assert set(covered) == wanted, (key, idea.content_structure)
            assert len(covered) == len(set(covered)), (key, "a keyword in two sections")
            assert idea.content_structure in CONTENT_STRUCTURES
            assert idea.content_type in CONTENT_TYPES
            assert set(idea.target_keywords) == wanted
            assert all(s.heading.strip() for s in idea.outline)
            assert len({s.heading for s in idea.outline}) == len(idea.outline)


@pytest.mark.parametrize(("keywords", "structure"), [
    # commercial, "best"/"top" → listicle
    ((("coffee grinder", 40500), ("best coffee grinder", 33100),
      ("top coffee grinders", 880)), "listicle"),
    # "vs" → comparison
    ((("hubspot vs salesforce", 2400), ("salesforce vs hubspot", 1300),
      ("hubspot or salesforce", 300)), "comparison"),
    ((("salesforce alternatives", 3600), ("alternatives to salesforce", 900)), "comparison"),
    # "review" → review
    ((("pipedrive review", 2900), ("pipedrive reviews", 1600),
      ("is pipedrive worth it", 300)), "review"),
    # "how to" → how_to
    ((("how to make pour over coffee", 6600), ("how to brew pourover coffee", 590)),
     "how_to"),
    # questions → faq
    ((("what is crm", 9900), ("what does crm stand for", 1300), ("crm meaning", 880)),
     "faq"),
    # informational without cues → guide
    ((("lead scoring", 4400), ("lead scoring model", 880)), "guide"),
    # "guide" → guide
    ((("email marketing guide", 1900), ("email marketing for beginners", 720)), "guide"),
    # navigational → guide
    ((("hubspot login", 12100), ("hubspot sign in", 1900)), "guide"),
    # "news" → news
    ((("google algorithm update news", 900), ("latest google update", 700)), "news"),
])
def test_structure_follows_intent_and_terms(keywords: tuple[tuple[str, int], ...],
                                            structure: str) -> None:
    ideas = generate_ideas(_cluster(*keywords), 3)
    assert ideas[0].content_structure == structure, [i.content_structure for i in ideas]


def test_ideas_of_one_cluster_differ_in_structure_up_to_the_maximum() -> None:
    ideas = generate_ideas(GRINDER, MAX_IDEAS)
    assert sorted(i.content_structure for i in ideas) == sorted(CONTENT_STRUCTURES)
    with pytest.raises(ValueError):
        generate_ideas(GRINDER, MAX_IDEAS + 1)
    with pytest.raises(ValueError):
        generate_ideas(GRINDER, 0)


def test_titles_are_readable_english() -> None:
    ideas = generate_ideas(GRINDER, 3)
    listicle = next(i for i in ideas if i.content_structure == "listicle")
    assert "Best Coffee Grinders" in listicle.title
    for idea in ideas:
        words = idea.title.replace(":", " ").split()
        # the keyword once, its modifier not repeated, small words lower case mid-title
        assert idea.title.lower().count("coffee grinder") == 1, idea.title
        assert idea.title.lower().count("best") <= 1, idea.title
        assert not set(words[1:]) & {"To", "For", "Of", "And", "The", "In"}, idea.title
    assert title_case(["crm", "for", "real", "estate"]) == "CRM for Real Estate"
    assert title_case(["the", "guide", "to", "hubspot"]) == "The Guide to HubSpot"
    assert title_case(["iPhone", "vs", "android"]) == "iPhone vs Android"
    real_estate = generate_ideas(_cluster(("best crm for real estate", 2400),
                                          ("real estate crm", 1900)), 1)[0]
    assert "Best CRMs for Real Estate" in real_estate.title


def test_outline_groups_keywords_by_shared_terms() -> None:
    idea = generate_ideas(GRINDER, 1)[0]
    sections = {k: s for s in idea.outline for k in s.keywords}
    # the two conical burr keywords share a section, and it is not the price one
    assert sections["conical burr coffee grinder"] is sections["best conical burr grinder"]
    assert sections["cheap coffee grinder"] is not sections["conical burr coffee grinder"]
    assert "Conical Burr" in sections["conical burr coffee grinder"].heading


def test_estimated_word_count_grows_with_the_outline() -> None:
    small = generate_ideas(_cluster(("lead scoring", 100)), 1)[0]
    big = generate_ideas(GRINDER, 1)[0]
    assert 100 <= small.estimated_word_count < big.estimated_word_count <= 20000
    h3 = sum(len(s.subheadings) for s in big.outline)
    assert big.estimated_word_count == round((150 + 200 * len(big.outline) + 120 * h3) / 50) * 50


def test_a_given_intent_is_the_cluster_intent() -> None:
    cluster = _cluster(("coffee grinder", 100), ("coffee grinders", 50))
    informational = ClusterBrief(1, cluster.name, cluster.keywords, intent="informational")
    assert plan_keywords(informational.keywords, intent="informational").intent == \
        "informational"
    assert rank_structures(plan_keywords(cluster.keywords))[0] == "listicle"
    assert generate_ideas(informational, 1)[0].content_structure != "listicle"


# -- articles ------------------------------------------------------------------------------------


BRIEF = ArticleBrief(task_id=7, title="The 4 Best Coffee Grinders",
                     keywords=("best coffee grinder", "coffee grinder reviews",
                               "cheap coffee grinder"),
                     content_structure="listicle", target_word_count=1200,
                     related_keywords=("grinder for coffee beans", "buy coffee grinder"))


def _without_comment(html: str) -> str:
    assert html.startswith("<!--")
    return html[html.index("-->") + 3:]


def test_article_is_deterministic_whatever_the_keyword_order() -> None:
    first = generate_article(BRIEF)
    assert generate_article(BRIEF) == first
    for seed in range(4):
        kws = list(BRIEF.keywords)
        rel = list(BRIEF.related_keywords)
        random.Random(seed).shuffle(kws)
        random.Random(seed).shuffle(rel)
        shuffled = ArticleBrief(7, BRIEF.title, tuple(kws), content_structure="listicle",
                                target_word_count=1200, related_keywords=tuple(rel))
        assert generate_article(shuffled) == first


def test_article_html_is_clean_and_honest() -> None:
    draft = generate_article(BRIEF)
    html = draft.html_content
    assert html.startswith("<!--") and "without a language model" in html.split("-->")[0]
    assert draft_note(draft.title) in html and "writer\u2019s brief" in draft_note(draft.title)
    body = _without_comment(html)
    assert sanitize_html(html) == body  # the sanitiser drops only the comment
    assert not re.search(r"<script|\son\w+=|style=", html, re.IGNORECASE)
    assert set(re.findall(r"</?(\w+)", body)) <= {"h2", "h3", "p", "ul", "li", "em"}
    assert draft.word_count == word_count(html)
    assert "lorem" not in html.lower()


@pytest.mark.parametrize("target", [300, 1500, 4000])
def test_the_brief_shares_the_target_word_count_among_its_sections(target: int) -> None:
    """A brief is not the article: it is short, and its word targets add up to the task's."""
    brief = ArticleBrief(1, "How to Make Pour Over Coffee",
                         ("how to make pour over coffee", "pour over ratio"),
                         content_structure="how_to", target_word_count=target)
    draft = generate_article(brief)
    targets = [int(n) for n in re.findall(r"<p>About (\d+) words on ", draft.html_content)]
    opening = int(re.findall(r"an opening of about (\d+) words", draft.html_content)[0])
    assert len(targets) == sum(1 + len(s.subheadings) for s in draft.outline)
    assert target * 0.9 <= sum(targets) + opening <= target * 1.1 + 10 * len(targets)
    assert draft.word_count < max(target, 900)


def test_article_places_the_keywords() -> None:
    draft = generate_article(BRIEF)
    assert draft.primary_keyword == "best coffee grinder"
    assert set(draft.secondary_keywords) == {"coffee grinder reviews", "cheap coffee grinder",
                                             "grinder for coffee beans", "buy coffee grinder"}
    parsed = _parse(_without_comment(draft.html_content))
    intro = parsed.text[0]
    assert "best coffee grinder" in intro
    by_heading = dict(zip([h for _, h in parsed.headings], parsed.text[1:], strict=True))
    for section in draft.outline:
        for kw in section.keywords:
            if kw != draft.primary_keyword:
                assert kw in by_heading[section.heading], (kw, section.heading)
    for kw in draft.secondary_keywords:
        assert kw in draft.html_content


def test_a_user_edited_outline_is_followed_verbatim() -> None:
    outline = (OutlineSection("Why Grind Size Matters & What <Burrs> Do",
                              ("Coarse vs. fine", "Espresso grind")),
               OutlineSection("My Favourite Café Setups"),
               OutlineSection("Wrap-up", (), ("burr grinder",)))
    brief = ArticleBrief(3, "Grind Size for Espresso", ("espresso grind size", "burr grinder",
                                                        "coffee grind size chart"),
                         outline=outline, content_structure="guide", target_word_count=700)
    draft = generate_article(brief)
    assert draft.outline == outline
    parsed = _parse(_without_comment(draft.html_content))
    assert parsed.headings == [
        ("h2", "Why Grind Size Matters & What <Burrs> Do"), ("h3", "Coarse vs. fine"),
        ("h3", "Espresso grind"), ("h2", "My Favourite Café Setups"), ("h2", "Wrap-up")]
    # the keyword the outline put in "Wrap-up" is there; the other secondary one in the
    # section sharing its stems ("grind size")
    assert "burr grinder" in parsed.text[-1]
    assert "coffee grind size chart" in "".join(parsed.text[1:4])
    assert sanitize_html(draft.html_content) == _without_comment(draft.html_content)


def test_without_an_outline_one_is_made_first() -> None:
    brief = ArticleBrief(4, "How to Make Cold Brew", ("how to make cold brew",
                                                      "cold brew ratio", "cold brew recipe"),
                         content_structure="how_to")
    draft = generate_article(brief)
    assert draft.outline and any("Step by Step" in s.heading for s in draft.outline)
    headings = [h for _, h in _parse(draft.html_content).headings]
    expected = [h for s in draft.outline for h in (s.heading, *s.subheadings)]
    assert headings == expected
    covered = {k for s in draft.outline for k in s.keywords}
    assert {"cold brew ratio", "cold brew recipe"} <= covered


def test_meta_lengths() -> None:
    long_title = ("Grind Size Explained: The Café Owner's Complete Guide to Better Espresso "
                  "Extraction at Home and at Work, With Charts")
    brief = ArticleBrief(5, long_title, ("espresso grind size", "grind size chart"),
                         outline=tuple(OutlineSection(f"A Rather Long Section Heading "
                                                      f"Number {i} About Grinding")
                                       for i in range(8)))
    draft = generate_article(brief)
    assert len(draft.meta_title) <= 60
    assert len(draft.meta_description) <= 160
    # the keyword once, in a sentence (it may open it, capitalised)
    assert draft.meta_description.lower().count(draft.primary_keyword) == 1
    # cut at word boundaries: every word of the meta title is a whole word of the title
    assert set(draft.meta_title.replace(":", " ").split()) <= \
        set(long_title.replace(":", " ").split())
    assert meta_title("Short Title") == "Short Title"
    assert meta_title("x" * 70) == "x" * 60
    cut = meta_title("Word " * 20)
    assert len(cut) <= 60 and not cut.endswith(" ") and set(cut.split()) == {"Word"}
    desc = meta_description("coffee grinder", "guide", [OutlineSection("y" * 200)])
    assert len(desc) <= 160 and desc.lower().count("coffee grinder") == 1


@pytest.mark.parametrize(("text", "slug"), [
    ("The 4 Best Coffee Grinders", "the-4-best-coffee-grinders"),
    ("Café Crème: 10 Tips & Tricks!", "cafe-creme-10-tips-and-tricks"),
    ("  Women's   Running -- Shoes?? ", "womens-running-shoes"),
    ("Über Straße Ñandú", "uber-strasse-nandu"),
    ("C++ / Rust — a comparison", "c-rust-a-comparison"),
])
def test_slug_rules(text: str, slug: str) -> None:
    assert slugify(text) == slug


def test_slug_is_bounded_and_falls_back() -> None:
    long = slugify("word " * 40)
    assert len(long) <= 80 and not long.endswith("-") and "--" not in long
    assert re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", long)
    assert generate_article(BRIEF).slug == "the-4-best-coffee-grinders"
    # nothing Latin in the title: the slug falls back to the task
    assert generate_article(ArticleBrief(9, "Кофемолка", ("кофемолка",))).slug == "draft-9"


# -- image prompts -------------------------------------------------------------------------------


HTML = ("<p>intro</p><h2>First &amp; Foremost</h2><p>a</p><h3>Not this</h3><h2>Second "
        "<em>part</em></h2><p>b</p><h2>Third</h2><h2>Second part</h2><h2>Fourth</h2>")


def test_one_prompt_per_h2_in_order_after_the_featured_one() -> None:
    brief = ImageBrief(1, "Coffee Grinders", HTML, "best coffee grinder", max_in_article=3)
    prompts = image_prompts(brief, "{prompt}")
    assert [p.image_type for p in prompts] == ["featured", "in_article", "in_article",
                                              "in_article"]
    assert [p.heading for p in prompts] == ["", "First & Foremost", "Second part", "Third"]
    assert "Coffee Grinders" in prompts[0].prompt and "best coffee grinder" in prompts[0].prompt
    assert "First & Foremost" in prompts[1].prompt
    capped = image_prompts(ImageBrief(1, "T", HTML, max_in_article=1), "{prompt}")
    assert [p.image_type for p in capped] == ["featured", "in_article"]
    assert len(image_prompts(ImageBrief(1, "T", HTML, max_in_article=0), "{prompt}")) == 1
    # "Second part" again is not a second image of the same heading
    every = image_prompts(ImageBrief(1, "T", HTML, max_in_article=10), "{prompt}")
    assert [p.heading for p in every][1:] == ["First & Foremost", "Second part", "Third",
                                             "Fourth"]
    assert h2_headings("<h2>Open") == ["Open"]


def test_the_template_is_honoured() -> None:
    brief = ImageBrief(1, "Coffee Grinders", HTML, "best coffee grinder")
    default = image_prompts(brief, DEFAULT_PROMPTS["image_prompt_template"])
    assert all(p.prompt.endswith("Editorial illustration, clean composition, soft natural "
                                 "light, no text.") for p in default)
    mine = image_prompts(brief, "Watercolour {prompt}, pastel {colours}")
    assert all(p.prompt.startswith("Watercolour ") and p.prompt.endswith(", pastel {colours}")
               for p in mine)
    # a saved template without the placeholder: the prompt is appended
    assert apply_template("Flat vector art.", "a grinder") == "Flat vector art. a grinder"
    assert apply_template("  ", "a grinder") == "a grinder"
    assert apply_template("{prompt} / {prompt}", "x") == "x / x"


# -- images ----------------------------------------------------------------------------------------


def _decode(data: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(data))
    image.load()
    return image


@pytest.mark.parametrize(("width", "height"), [(1200, 630), (64, 64), (300, 900)])
def test_render_makes_a_real_png_of_the_asked_size(width: int, height: int) -> None:
    image = render_image(ImageRequest("a coffee grinder", title="The 4 Best Coffee Grinders "
                                      "for Café Owners — Tested", width=width, height=height))
    assert image.data.startswith(PNG_SIGNATURE)
    assert (image.content_type, image.width, image.height) == ("image/png", width, height)
    decoded = _decode(image.data)
    assert decoded.format == "PNG" and decoded.size == (width, height)
    colours = decoded.convert("RGB").getcolors(1 << 24)
    assert colours is not None and len(colours) > 50  # not a flat fill


def test_render_is_deterministic_and_seeded() -> None:
    request = ImageRequest("a coffee grinder", title="Coffee Grinders", width=320, height=200,
                           seed=1)
    first = render_image(request).data
    assert render_image(request).data == first
    assert render_image(ImageRequest("a coffee grinder", title="Coffee Grinders", width=320,
                                     height=200, seed=2)).data != first
    assert render_image(ImageRequest("an espresso machine", title="Coffee Grinders",
                                     width=320, height=200, seed=1)).data != first


def test_the_title_is_drawn() -> None:
    """The panel behind the title darkens the middle; with a title there are white pixels
    there that an untitled render does not have."""
    def white_in_middle(title: str) -> int:
        image = _decode(render_image(ImageRequest("p", title=title, width=400, height=200,
                                                  seed=3)).data).convert("RGB")
        data = image.crop((60, 70, 340, 130)).tobytes()
        return sum(1 for i in range(0, len(data), 3) if min(data[i:i + 3]) > 240)

    assert white_in_middle("Coffee Grinders Tested") > 200
    assert white_in_middle("") < white_in_middle("Coffee Grinders Tested")


@pytest.mark.parametrize(("width", "height"), [(63, 100), (100, 2049), (0, 0), (-5, 100),
                                               (5000, 5000)])
def test_bad_sizes_are_refused(width: int, height: int) -> None:
    with pytest.raises(ProviderError, match="64 to 2048"):
        render_image(ImageRequest("p", width=width, height=height))
