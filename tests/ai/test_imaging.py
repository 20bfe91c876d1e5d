"""Offline images follow their own prompts: each section's prompt names its heading and a
scene for the heading's kind, the renderer draws that scene, the images of one article all
differ (not one title card), and "no text" means no text is drawn."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageChops, ImageStat

from igny8d.ai import generate_article, image_prompts, render_image
from igny8d.ai.imaging import motif_of, says_no_text, subject_of
from igny8d.ai.prompts import DEFAULT_PROMPTS
from igny8d.ai.types import ArticleBrief, ImageBrief, ImageRequest, OutlineSection

OUTLINE = (OutlineSection("How to Descale an Espresso Machine: Step by Step"),
           OutlineSection("Manual vs Automatic Espresso Machines"),
           OutlineSection("Espresso Machine Prices"),
           OutlineSection("Common Mistakes to Avoid"))


def _image(request: ImageRequest) -> Image.Image:
    return Image.open(io.BytesIO(render_image(request).data)).convert("RGB")


def _white(image: Image.Image) -> int:
    data = image.tobytes()
    return sum(1 for i in range(0, len(data), 3) if min(data[i:i + 3]) > 245)


def test_each_section_gets_its_own_scene_and_image() -> None:
    draft = generate_article(ArticleBrief(1, "Espresso Machines at Home",
                                          ("espresso machine",), outline=OUTLINE))
    prompts = image_prompts(ImageBrief(1, draft.title, draft.html_content, "espresso machine",
                                       max_in_article=4),
                            DEFAULT_PROMPTS["image_prompt_template"])
    inline = prompts[1:]
    assert [p.heading for p in inline] == [s.heading for s in OUTLINE]
    for p in inline:
        assert f"\u201c{p.heading}\u201d" in p.prompt and p.prompt.endswith("no text.")
    motifs = [motif_of(p.prompt, random.Random(0)) for p in inline]
    assert motifs == ["steps", "split", "bars", "warning"]
    # rendered as the images operation renders them: one title for all, the id as the seed
    images = [_image(ImageRequest(p.prompt, title=draft.title, width=400, height=240,
                                  negative_prompt=DEFAULT_PROMPTS["negative_prompt"],
                                  seed=100 + i)) for i, p in enumerate(prompts)]
    for i, a in enumerate(images):
        for b in images[i + 1:]:
            diff = ImageStat.Stat(ImageChops.difference(a, b)).mean
            assert sum(diff) / 3 > 8, diff  # different pictures, not a recoloured card


def test_no_text_means_no_text() -> None:
    base = "An illustration of \u201cGrinding the Beans\u201d, as a close-up scene"
    plain = ImageRequest(base, title="Espresso at Home", width=400, height=200, seed=3)
    quiet = ImageRequest(base + ", no text.", title="Espresso at Home", width=400, height=200,
                         seed=3)
    negative = ImageRequest(base, title="Espresso at Home", width=400, height=200, seed=3,
                            negative_prompt="text, watermark")
    assert not says_no_text(plain) and says_no_text(quiet) and says_no_text(negative)
    assert _white(_image(plain)) > 200  # the heading and the caption are drawn
    assert _white(_image(quiet)) < 20 and _white(_image(negative)) < 20


def test_the_subject_is_the_prompts_heading_not_the_articles_title() -> None:
    request = ImageRequest("An illustration of \u201cPulling a Shot\u201d, shown as steps",
                           title="Espresso Machines at Home")
    assert subject_of(request) == "Pulling a Shot"
    assert subject_of(ImageRequest("a grinder, close up", title="T")) == "T"
    assert subject_of(ImageRequest("a grinder, close up")) == "a grinder"
