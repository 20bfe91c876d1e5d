"""HTML of content: sanitised on the way in (an allow-list, rebuilt with the stdlib parser)
and counted in words. Pure functions: no I/O, no database.

The sanitiser never edits the input with regular expressions: `html.parser` tokenises it,
and only allowed tags with allowed attributes are written back, every text and attribute
value re-escaped. So what comes out is well-formed as far as the kept tags go, whatever came
in (unclosed tags, stray `<`, comments, CDATA, processing instructions).
"""

from __future__ import annotations

import re
from html import escape
from html.parser import HTMLParser

#: Elements removed together with everything inside them.
DROP_WITH_CONTENT = frozenset({
    "script", "style", "iframe", "object", "embed", "noscript", "template", "svg", "math",
    "frame", "frameset", "applet", "head", "title", "textarea", "select", "xmp", "noembed",
    "noframes", "plaintext",
})

#: Formatting and structure kept as they are (their allowed attributes only).
ALLOWED_TAGS = frozenset({
    "a", "abbr", "b", "blockquote", "br", "caption", "cite", "code", "col", "colgroup",
    "dd", "del", "details", "dfn", "div", "dl", "dt", "em", "figcaption", "figure", "h1",
    "h2", "h3", "h4", "h5", "h6", "hr", "i", "img", "ins", "kbd", "li", "mark", "ol", "p",
    "picture", "pre", "q", "s", "samp", "section", "article", "aside", "header", "footer",
    "nav", "main", "small", "source", "span", "strong", "sub", "summary", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "time", "tr", "u", "ul", "var", "wbr",
})

VOID_TAGS = frozenset({"br", "col", "hr", "img", "source", "wbr"})

#: An opening tag implies the end of these when they are the innermost open element
#: (`<li>a<li>b` is two items, not one inside the other).
_IMPLIED_END: dict[str, frozenset[str]] = {
    "li": frozenset({"li"}), "dt": frozenset({"dt", "dd"}), "dd": frozenset({"dt", "dd"}),
    "tr": frozenset({"tr", "td", "th"}), "td": frozenset({"td", "th"}),
    "th": frozenset({"td", "th"}), "p": frozenset({"p"}),
}

#: Dropped elements that have no end tag (nothing inside them to drop).
_DROP_VOID = frozenset({"embed", "frame"})

#: Attributes allowed on every kept tag.
GLOBAL_ATTRS = frozenset({"class", "id", "title", "lang", "dir"})

TAG_ATTRS: dict[str, frozenset[str]] = {
    "a": frozenset({"href", "rel", "target", "name"}),
    "img": frozenset({"src", "alt", "width", "height", "loading", "srcset", "sizes"}),
    "source": frozenset({"src", "srcset", "type", "media", "sizes"}),
    "td": frozenset({"colspan", "rowspan", "headers", "align"}),
    "th": frozenset({"colspan", "rowspan", "headers", "scope", "align"}),
    "col": frozenset({"span"}),
    "colgroup": frozenset({"span"}),
    "ol": frozenset({"start", "reversed", "type"}),
    "li": frozenset({"value"}),
    "blockquote": frozenset({"cite"}),
    "q": frozenset({"cite"}),
    "del": frozenset({"cite", "datetime"}),
    "ins": frozenset({"cite", "datetime"}),
    "time": frozenset({"datetime"}),
    "details": frozenset({"open"}),
}

#: Attributes holding a URL: checked against the allowed schemes.
URL_ATTRS = frozenset({"href", "src", "cite", "srcset"})

_SAFE_SCHEMES = frozenset({"http", "https", "mailto", "tel"})
_SCHEME = re.compile(r"^([a-z][a-z0-9+.\-]*):", re.IGNORECASE)
#: Browsers ignore these inside a scheme name ("java\tscript:" runs).
_IGNORED_IN_URL = re.compile(r"[\x00-\x20\x7f-\x9f]+")
_DATA_IMAGE = re.compile(r"^data:image/(png|gif|jpe?g|webp|avif);", re.IGNORECASE)


def safe_url(value: str, *, attr: str) -> bool:
    """Relative URLs and http(s)/mailto/tel pass; `data:image/...` only as an image
    source; javascript:, vbscript:, data: (otherwise) and any unknown scheme do not."""
    compact = _IGNORED_IN_URL.sub("", value)
    found = _SCHEME.match(compact)
    if found is None:
        return True  # relative: path, #fragment, ?query, //host
    scheme = found.group(1).lower()
    if scheme in _SAFE_SCHEMES:
        return True
    return scheme == "data" and attr == "src" and bool(_DATA_IMAGE.match(compact))


def _safe_srcset(value: str) -> bool:
    return all(safe_url(part.strip().split(" ")[0], attr="srcset")
               for part in value.split(",") if part.strip())


class _Sanitiser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out: list[str] = []
        self.open: list[str] = []  # kept elements, innermost last
        self.dropping: list[str] = []  # dropped-with-content elements we are inside

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._start(tag, attrs, closed=True)

    def _start(self, tag: str, attrs: list[tuple[str, str | None]], *, closed: bool) -> None:
        if tag in DROP_WITH_CONTENT:
            # `<script/>` opens a script all the same in a browser: what follows is dropped
            # up to its end tag.
            if tag not in _DROP_VOID:
                self.dropping.append(tag)
            return
        if self.dropping:
            return
        if tag not in ALLOWED_TAGS:
            return  # the tag goes, its text stays
        implied = _IMPLIED_END.get(tag, frozenset())
        while self.open and self.open[-1] in implied:
            self.out.append(f"</{self.open.pop()}>")
        allowed = GLOBAL_ATTRS | TAG_ATTRS.get(tag, frozenset())
        parts = [tag]
        seen: set[str] = set()
        for name, value in attrs:
            name = name.lower()
            if name in seen or name not in allowed or name.startswith("on"):
                continue
            seen.add(name)
            text = value or ""
            if name == "srcset":
                if not _safe_srcset(text):
                    continue
            elif name in URL_ATTRS and not safe_url(text, attr=name):
                continue
            parts.append(f'{name}="{escape(text, quote=True)}"')
        if tag == "a" and any(p.startswith('target="') for p in parts[1:]) and \
                not any(p.startswith('rel="') for p in parts[1:]):
            parts.append('rel="noopener noreferrer"')
        self.out.append("<" + " ".join(parts) + ">")
        if tag not in VOID_TAGS:
            if closed:
                self.out.append(f"</{tag}>")
            else:
                self.open.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if self.dropping:
            if tag == self.dropping[-1]:
                self.dropping.pop()
            elif tag in self.dropping:
                del self.dropping[self.dropping.index(tag):]
            return
        if tag not in ALLOWED_TAGS or tag in VOID_TAGS or tag not in self.open:
            return
        while self.open:  # close what was left open inside it
            inner = self.open.pop()
            self.out.append(f"</{inner}>")
            if inner == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.dropping:
            self.out.append(escape(data, quote=False))

    # comments, doctypes, processing instructions and CDATA sections are dropped
    def handle_comment(self, data: str) -> None:
        return

    def handle_decl(self, decl: str) -> None:
        return

    def handle_pi(self, data: str) -> None:
        return

    def unknown_decl(self, data: str) -> None:
        return

    def result(self) -> str:
        self.close()
        if self.dropping:
            # An unclosed <script>: html.parser holds its text back until close(); drop it.
            self.dropping.clear()
        tail = "".join(f"</{t}>" for t in reversed(self.open))
        self.open.clear()
        return "".join(self.out) + tail


def sanitize_html(raw: str) -> str:
    """The HTML with only allowed tags and attributes; scripts, styles, frames, objects and
    embeds removed with their content; on* handlers and unsafe URLs removed."""
    if not raw:
        return ""
    parser = _Sanitiser()
    parser.feed(raw.replace("\x00", ""))
    return parser.result()


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in DROP_WITH_CONTENT and tag not in _DROP_VOID:
            self.skip += 1
        self.parts.append(" ")  # a tag separates words: <p>a</p><p>b</p> is two

    def handle_endtag(self, tag: str) -> None:
        if tag in DROP_WITH_CONTENT and tag not in _DROP_VOID and self.skip:
            self.skip -= 1
        self.parts.append(" ")

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.parts.append(data)


def html_text(html: str) -> str:
    """The visible text of the HTML (tags removed, entities decoded)."""
    parser = _Text()
    parser.feed(html)
    parser.close()
    return "".join(parser.parts)


_WORD = re.compile(r"\w+(?:['’\-]\w+)*")


def word_count(html: str) -> int:
    """Words of the HTML's text: runs of letters/digits (`don't`, `e-mail` count once)."""
    if not html:
        return 0
    return len(_WORD.findall(html_text(html)))
