"""Image prompts and locally rendered PNG images for the local provider.

Prompts (`image_prompts`): one `featured` prompt from the title and primary keyword, then one
`in_article` prompt per <h2> of the article (parsed with `html.parser`, in document order,
empty and repeated headings skipped), at most `max_in_article`; each names its heading and a
scene for the heading's kind (steps along a path, two options side by side, a bar chart of
prices, a checklist, a warning sign, speech bubbles; `SCENES`). Each goes through the
account's `image_prompt_template` (its `{prompt}` placeholder replaced; a template without one
gets the prompt appended), so a user's template is honoured by the local provider too.

Images (`render_image`): a real PNG made with Pillow that follows its own prompt — a
two-colour gradient and the composition its scene asks for (`MOTIF_CUES`: two sides, steps,
bars, a checklist, a warning, bubbles; else circles, bands, dots or diagonals), then, unless
the prompt says "no text" or the negative prompt names text, its subject (the prompt's quoted
heading, else the title) on a translucent panel in Pillow's bundled font and a small
"igny8d · draft illustration" caption. So the images of one article differ, and none repeats
the article's title card. The palette and the shapes come from a `random.Random` seeded with a
digest of the request's seed, prompt and title: the same request gives the same bytes (PNG
has no timestamp unless asked), a different seed a different image.
Sizes are 64..2048 pixels a side.
"""

from __future__ import annotations

import colorsys
import hashlib
import io
import random
import re
import unicodedata
from collections.abc import Sequence
from html.parser import HTMLParser

from PIL import Image, ImageDraw, ImageFilter, ImageFont

from igny8d.ai.types import ImageBrief, ImagePromptDraft, ImageRequest, ProviderError, RenderedImage

MIN_SIDE, MAX_SIDE = 64, 2048
CAPTION = "igny8d \u00b7 draft illustration"
PROMPT_PLACEHOLDER = "{prompt}"
MAX_TITLE_LINES = 4

# -- prompts ---------------------------------------------------------------------------------------


class _Headings(HTMLParser):
    """The text of every <h2>, in order (nested inline tags' text included)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self.depth = 0
        self.current: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "h2":
            if self.depth == 0:
                self.current = []
            self.depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "h2" and self.depth:
            self.depth -= 1
            if self.depth == 0:
                self.found.append(" ".join("".join(self.current).split()))

    def handle_data(self, data: str) -> None:
        if self.depth:
            self.current.append(data)


def h2_headings(html: str) -> list[str]:
    """The <h2> headings of the HTML, in document order (an unclosed last one included)."""
    parser = _Headings()
    parser.feed(html)
    parser.close()
    if parser.depth:
        parser.found.append(" ".join("".join(parser.current).split()))
    return parser.found


def apply_template(template: str, prompt: str) -> str:
    """The prompt in the account's template: `{prompt}` replaced (every occurrence; other
    braces left alone), else the prompt appended; an empty template gives the prompt."""
    template = template.strip()
    if not template:
        return prompt
    if PROMPT_PLACEHOLDER in template:
        return template.replace(PROMPT_PLACEHOLDER, prompt)
    return f"{template} {prompt}"


#: What an in-article image shows, by the kind of its section's heading (the renderer reads
#: the cue back: `MOTIF_CUES`).
SCENES: dict[str, str] = {
    "steps": "shown as numbered steps along a path",
    "compare": "shown as two options side by side",
    "price": "shown as a bar chart of prices",
    "choose": "shown as a checklist with ticks",
    "pick": "shown as a checklist with ticks",
    "pros": "shown as a checklist with ticks",
    "mistakes": "shown as a warning sign beside the right way",
    "cons": "shown as a warning sign beside the right way",
    "question": "shown as speech bubbles of questions and answers",
    "faq": "shown as speech bubbles of questions and answers",
}

#: Prompt words → the composition drawn for them; a prompt with none gets one of `MOTIFS`.
MOTIF_CUES: tuple[tuple[str, str], ...] = (
    ("side by side", "split"), ("numbered steps", "steps"), ("bar chart", "bars"),
    ("checklist", "checks"), ("warning sign", "warning"), ("speech bubble", "bubbles"),
)
_NO_TEXT = re.compile(r"\b(no|without( any)?) (text|words|lettering|letters|captions?|"
                      r"typography)\b", re.IGNORECASE)


def image_prompts(brief: ImageBrief, template: str) -> tuple[ImagePromptDraft, ...]:
    """The featured prompt, then one per <h2> (see the module doc)."""
    from igny8d.ai.article.headings import heading_kind  # the article writer, on first use

    title = " ".join(brief.title.split())
    primary = " ".join(brief.primary_keyword.split())
    subject = title or primary or "the article"
    featured = f"A featured image for the article \u201c{subject}\u201d"
    if primary and primary.casefold() not in subject.casefold():
        featured += f", about {primary}"
    out = [ImagePromptDraft("featured", apply_template(template, featured))]
    limit = max(0, brief.max_in_article)
    seen: set[str] = set()
    for heading in h2_headings(brief.html_content):
        if len(out) > limit:
            break
        key = heading.casefold()
        if not heading or key in seen:
            continue
        seen.add(key)
        about = f" about {primary}" if primary else ""
        scene = SCENES.get(heading_kind(heading), "as a close-up scene")
        prompt = (f"An illustration of \u201c{heading}\u201d, {scene}, for a section of an "
                  f"article{about}")
        out.append(ImagePromptDraft("in_article", apply_template(template, prompt), heading))
    return tuple(out)


# -- rendering -------------------------------------------------------------------------------------

_ASCII_FOR = {"\u2018": "'", "\u2019": "'", "\u201c": '"', "\u201d": '"', "\u2013": "-",
              "\u2014": "-", "\u2026": "...", "\u00a0": " ", "\u00df": "ss", "\u00e6": "ae",
              "\u00c6": "AE", "\u0153": "oe", "\u0152": "OE", "\u00f8": "o", "\u00d8": "O",
              "\u0142": "l", "\u0141": "L"}


def drawable(text: str) -> str:
    """The text in characters the bundled font has: accents dropped, typographic quotes and
    dashes made ASCII, anything else left out."""
    out: list[str] = []
    for ch in text:
        ch = _ASCII_FOR.get(ch, ch)
        for c in unicodedata.normalize("NFKD", ch):
            if unicodedata.combining(c):
                continue
            if " " <= c <= "~" or c == "\u00b7":
                out.append(c)
    return " ".join("".join(out).split())


def _font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    return ImageFont.load_default(size=size)


def _width(font: ImageFont.FreeTypeFont | ImageFont.ImageFont, text: str) -> float:
    return float(font.getlength(text))


def wrap(text: str, font: ImageFont.FreeTypeFont | ImageFont.ImageFont,
         width: float) -> list[str]:
    """Greedy word wrap to `width` pixels (a word wider than the line is cut by characters)."""
    lines: list[str] = []
    line = ""
    for word in text.split():
        while _width(font, word) > width and len(word) > 1:
            cut = len(word) - 1
            while cut > 1 and _width(font, word[:cut]) > width:
                cut -= 1
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:cut])
            word = word[cut:]
        candidate = f"{line} {word}" if line else word
        if _width(font, candidate) <= width:
            line = candidate
        else:
            lines.append(line)
            line = word
    if line:
        lines.append(line)
    return lines


def _fit_title(text: str, width: int, height: int) -> tuple[
        ImageFont.FreeTypeFont | ImageFont.ImageFont, list[str], int]:
    """(font, lines, line height): the largest size at which the title fits in
    MAX_TITLE_LINES lines across 80% of the width and half the height; the last line gets
    an ellipsis when even the smallest size does not fit."""
    short = min(width, height)
    size = max(10, min(120, short // 8))
    while True:
        font = _font(size)
        line_h = int(size * 1.25)
        lines = wrap(text, font, width * 0.8)
        if (len(lines) <= MAX_TITLE_LINES and line_h * len(lines) <= height * 0.5) or \
                size <= 10:
            break
        size = max(10, int(size * 0.88))
    if len(lines) > MAX_TITLE_LINES or line_h * len(lines) > height * 0.5:
        keep = max(1, min(MAX_TITLE_LINES, int(height * 0.5) // line_h))
        lines = lines[:keep]
        last = lines[-1]
        while last and _width(font, last + "...") > width * 0.8:
            last = last[:-1]
        lines[-1] = last.rstrip() + "..."
    return font, lines, line_h


def _palette(rng: random.Random) -> tuple[tuple[int, int, int], ...]:
    """Two dark background colours of neighbouring hues and two lighter accents."""
    hue = rng.random()

    def rgb(h: float, lightness: float, saturation: float) -> tuple[int, int, int]:
        r, g, b = colorsys.hls_to_rgb(h % 1.0, lightness, saturation)
        return round(r * 255), round(g * 255), round(b * 255)

    shift = rng.uniform(0.05, 0.16)
    return (rgb(hue, rng.uniform(0.16, 0.28), rng.uniform(0.45, 0.75)),
            rgb(hue + shift, rng.uniform(0.3, 0.42), rng.uniform(0.45, 0.75)),
            rgb(hue + 0.5, rng.uniform(0.55, 0.7), rng.uniform(0.5, 0.8)),
            rgb(hue + shift * 2, rng.uniform(0.6, 0.75), rng.uniform(0.4, 0.7)))


MOTIFS = ("circles", "bands", "dots", "diagonals")


def motif_of(prompt: str, rng: random.Random) -> str:
    """The composition the prompt asks for (`MOTIF_CUES`), else one of `MOTIFS` (seeded)."""
    low = prompt.lower()
    for cue, motif in MOTIF_CUES:
        if cue in low:
            return motif
    return MOTIFS[rng.randrange(len(MOTIFS))]


def says_no_text(request: ImageRequest) -> bool:
    """Whether the prompt forbids text ("no text") or the negative prompt names it."""
    return bool(_NO_TEXT.search(request.prompt)) or \
        bool(re.search(r"\b(text|lettering|words)\b", request.negative_prompt, re.IGNORECASE))


def subject_of(request: ImageRequest) -> str:
    """What the image is of: the prompt's first quoted text (its section's heading), else the
    title, else the prompt's first clause."""
    quoted = re.search(r"[\u201c\"]([^\u201d\"]+)[\u201d\"]", request.prompt)
    if quoted and quoted.group(1).strip():
        return quoted.group(1).strip()
    return request.title.strip() or re.split(r"[.,;:]", request.prompt)[0].strip()


def _figure(draw: ImageDraw.ImageDraw, w: int, h: int, rng: random.Random, motif: str,
            accents: Sequence[tuple[int, int, int]]) -> None:
    """The compositions that follow a prompt's cue: two sides, steps, bars, a checklist, a
    warning, speech bubbles (shapes only, no letters)."""
    short = min(w, h)
    light = (*accents[0], 200)
    soft = (*accents[1], 150)
    if motif == "split":
        draw.rectangle((w // 2, 0, w, h), fill=(*accents[1], 70))
        draw.line((w // 2, h // 10, w // 2, h - h // 10), fill=light, width=max(2, short // 60))
        r = short // 5
        draw.ellipse((w // 4 - r, h // 2 - r, w // 4 + r, h // 2 + r), fill=light)
        draw.rounded_rectangle((3 * w // 4 - r, h // 2 - r, 3 * w // 4 + r, h // 2 + r),
                               radius=r // 3, fill=soft)
    elif motif == "steps":
        n = rng.randint(3, 5)
        r = max(4, short // 12)
        points = [(int(w * (i + 1) / (n + 1)), int(h * (0.7 - 0.4 * i / max(1, n - 1))))
                  for i in range(n)]
        draw.line(points, fill=soft, width=max(2, r // 3))
        for x, y in points:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=light)
    elif motif == "bars":
        n = rng.randint(4, 7)
        gap = w / (n * 2 + 1)
        for i in range(n):
            top = int(h * (0.75 - 0.5 * (i + 1) / n * rng.uniform(0.7, 1.0)))
            x0 = int(gap * (2 * i + 1))
            draw.rectangle((x0, top, int(x0 + gap), int(h * 0.85)), fill=light if i % 2 else soft)
    elif motif == "checks":
        rows = rng.randint(3, 5)
        step = h / (rows + 1)
        box = max(6, int(step * 0.45))
        for i in range(rows):
            y = int(step * (i + 1))
            x = int(w * 0.25)
            draw.rounded_rectangle((x, y - box // 2, x + box, y + box // 2), radius=box // 5,
                                   outline=light, width=max(2, box // 8))
            draw.line([(x + box // 5, y), (x + box // 2.5, y + box // 4), (x + box, y - box)],
                      fill=light, width=max(2, box // 6))
            draw.rounded_rectangle((x + box * 2, y - box // 6, int(w * 0.75), y + box // 6),
                                   radius=box // 6, fill=soft)
    elif motif == "warning":
        r = short // 3
        cx, cy = w // 3, h // 2
        draw.polygon([(cx, cy - r), (cx + r, cy + r * 2 // 3), (cx - r, cy + r * 2 // 3)],
                     fill=light)
        draw.rectangle((cx - r // 12, cy - r // 2, cx + r // 12, cy + r // 4), fill=soft)
        draw.ellipse((2 * w // 3 - r // 2, cy - r // 2, 2 * w // 3 + r // 2, cy + r // 2),
                     outline=light, width=max(2, short // 40))
    elif motif == "bubbles":
        for i in range(rng.randint(3, 4)):
            bw, bh = int(w * rng.uniform(0.22, 0.32)), int(h * rng.uniform(0.16, 0.24))
            x = int(w * (0.1 + 0.45 * (i % 2)))
            y = int(h * (0.12 + 0.22 * i))
            colour = light if i % 2 else soft
            draw.rounded_rectangle((x, y, x + bw, y + bh), radius=bh // 3, fill=colour)
            tail = x + bw // 5 if i % 2 == 0 else x + bw - bw // 5
            draw.polygon([(tail, y + bh), (tail + bw // 10, y + bh), (tail, y + bh + bh // 3)],
                         fill=colour)


def _background(w: int, h: int, rng: random.Random, colours: Sequence[tuple[int, int, int]],
                motif: str) -> Image.Image:
    horizontal = Image.linear_gradient("L").rotate(90).resize((w, h))
    vertical = Image.linear_gradient("L").resize((w, h))
    mask = Image.blend(horizontal, vertical, rng.uniform(0.2, 0.8))
    base = Image.composite(Image.new("RGB", (w, h), colours[1]),
                           Image.new("RGB", (w, h), colours[0]), mask).convert("RGBA")
    layer = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    short = min(w, h)
    accents = colours[2:]
    if motif == "circles":
        for _ in range(rng.randint(5, 9)):
            r = int(short * rng.uniform(0.08, 0.35))
            x, y = rng.randint(0, w), rng.randint(0, h)
            colour = (*accents[rng.randrange(len(accents))], rng.randint(40, 110))
            if rng.random() < 0.4:
                draw.ellipse((x - r, y - r, x + r, y + r), outline=colour,
                             width=max(2, r // 10))
            else:
                draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    elif motif == "bands":
        for _ in range(rng.randint(3, 6)):
            y0 = rng.randint(-h // 4, h)
            thick = int(h * rng.uniform(0.05, 0.2))
            tilt = int(h * rng.uniform(-0.3, 0.3))
            colour = (*accents[rng.randrange(len(accents))], rng.randint(35, 90))
            draw.polygon([(0, y0), (w, y0 + tilt), (w, y0 + tilt + thick), (0, y0 + thick)],
                         fill=colour)
    elif motif == "dots":
        step = max(8, short // rng.randint(10, 18))
        r = max(2, step // 6)
        colour = (*accents[0], rng.randint(50, 110))
        for gy in range(step // 2, h, step):
            for gx in range(step // 2, w, step):
                if rng.random() < 0.7:
                    draw.ellipse((gx - r, gy - r, gx + r, gy + r), fill=colour)
    elif motif == "diagonals":
        step = max(10, short // rng.randint(6, 12))
        width = max(2, step // rng.randint(3, 6))
        colour = (*accents[rng.randrange(len(accents))], rng.randint(40, 90))
        for x in range(-h, w, step):
            draw.line((x, h, x + h, 0), fill=colour, width=width)
    else:
        _figure(draw, w, h, rng, motif, accents)
    if motif in ("circles", "bands"):
        layer = layer.filter(ImageFilter.GaussianBlur(max(1, short // 90)))
    return Image.alpha_composite(base, layer)


def render_image(request: ImageRequest) -> RenderedImage:
    """A PNG of the request (see the module doc); ProviderError for a size out of range."""
    w, h = request.width, request.height
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (w, h)) or \
            not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise ProviderError(f"Image sizes must be {MIN_SIDE} to {MAX_SIDE} pixels a side "
                            f"(got {w}x{h}).", status=400)
    digest = hashlib.sha256(f"{request.seed}\x00{request.prompt}\x00{request.title}".encode())
    rng = random.Random(int.from_bytes(digest.digest()[:8], "big"))  # noqa: S311 - art, not keys
    colours = _palette(rng)
    motif = motif_of(request.prompt, rng)
    image = _background(w, h, rng, colours, motif)

    no_text = says_no_text(request)
    title = "" if no_text else drawable(subject_of(request))[:120]
    overlay = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    draw = ImageDraw.Draw(overlay)
    if title:
        font, lines, line_h = _fit_title(title, w, h)
        block_h = line_h * len(lines)
        pad = max(6, min(w, h) // 24)
        top = (h - block_h) // 2
        draw.rounded_rectangle((int(w * 0.06), top - pad, int(w * 0.94), top + block_h + pad),
                               radius=pad, fill=(0, 0, 0, 120))
        for i, line in enumerate(lines):
            lw = _width(font, line)
            x = (w - lw) / 2
            y = top + i * line_h
            draw.text((x + 1, y + 1), line, font=font, fill=(0, 0, 0, 160))
            draw.text((x, y), line, font=font, fill=(255, 255, 255, 255))
    caption_font = _font(max(9, min(w, h) // 40))
    margin = max(4, min(w, h) // 50)
    cw = _width(caption_font, CAPTION)
    if cw + 2 * margin <= w and not no_text:
        ch = caption_font.getbbox(CAPTION)[3]
        draw.text((w - margin - cw, h - margin - ch), CAPTION, font=caption_font,
                  fill=(255, 255, 255, 200))
    image = Image.alpha_composite(image, overlay).convert("RGB")
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return RenderedImage(buffer.getvalue(), "image/png", w, h)
