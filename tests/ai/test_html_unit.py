"""The content HTML sanitiser (nh3 with igny8d's allow-list) and word count: pure functions."""

from __future__ import annotations

import pytest

from igny8d.text import html_text, safe_url, sanitize_html, word_count


@pytest.mark.parametrize(("raw", "clean"), [
    ("<p>Hello <b>world</b></p>", "<p>Hello <b>world</b></p>"),
    ("<p onclick=\"x()\" class=\"lead\">a</p>", '<p class="lead">a</p>'),
    ("<script>alert(1)</script>after", "after"),
    ("<SCRIPT SRC=//evil.example/x.js></SCRIPT>ok", "ok"),
    ("<script/>bad</script>ok", "ok"),
    ("<script>never closed", ""),
    ("<style>body{display:none}</style><p>x</p>", "<p>x</p>"),
    ("<iframe src=\"https://evil.example\"><p>in</p></iframe>out", "out"),
    ("<object data=\"x\"><param name=a value=b><embed src=y></object>z", "z"),
    ("<embed src=\"x.swf\">after", "after"),
    ("<svg onload=alert(1)><script>1</script></svg>s", "s"),
    ("<noscript><img src=x onerror=alert(1)></noscript>n", "n"),
    ("<a href=\"javascript:alert(1)\">x</a>", "<a>x</a>"),
    ("<a href=\"JaVaScRiPt:alert(1)\">x</a>", "<a>x</a>"),
    ("<a href=\" java\tscript:alert(1)\">x</a>", "<a>x</a>"),
    ("<a href=\"&#106;avascript:alert(1)\">x</a>", "<a>x</a>"),
    ("<a href=\"vbscript:msgbox(1)\">x</a>", "<a>x</a>"),
    ("<a href=\"data:text/html;base64,PHNjcmlwdD4=\">x</a>", "<a>x</a>"),
    ("<img src=\"data:image/png;base64,AAAA\">", '<img src="data:image/png;base64,AAAA">'),
    ("<img src=\"data:image/svg+xml,<svg onload=alert(1)>\">", "<img>"),
    ("<a href=\"data:image/png;base64,AAAA\">x</a>", "<a>x</a>"),
    ("<img src=\"x.png\" onerror=\"alert(1)\" alt=\"A\">", '<img src="x.png" alt="A">'),
    ("<img srcset=\"a.png 1x, javascript:alert(1) 2x\" src=\"a.png\">", '<img src="a.png">'),
    ("<a href=\"/relative\">r</a>", '<a href="/relative">r</a>'),
    ("<a href=\"https://example.com/?a=1&amp;b=2\">u</a>",
     '<a href="https://example.com/?a=1&amp;b=2">u</a>'),
    ("<a href=\"mailto:a@example.com\">m</a>", '<a href="mailto:a@example.com">m</a>'),
    ("<a href=\"x\" target=\"_blank\">t</a>",
     '<a href="x" target="_blank" rel="noopener noreferrer">t</a>'),
    ("<div style=\"background:url(javascript:1)\">s</div>", "<div>s</div>"),
    ("<form action=x><input name=a>f</form>", "f"),
    ("<p title='\"><script>x</script>'>t</p>",
     '<p title="&quot;&gt;&lt;script&gt;x&lt;/script&gt;">t</p>'),
    ("a &lt;script&gt; b", "a &lt;script&gt; b"),
    ("1 < 2 & 3 > 2", "1 &lt; 2 &amp; 3 &gt; 2"),
    ("<!-- <script>x</script> -->c", "c"),
    # HTML (not XML): a browser reads "<![CDATA[" as a comment ending at the first ">"
    ("<![CDATA[<script>x</script>]]>d", "x]]&gt;d"),
    ("<!DOCTYPE html><html><head><title>T</title></head><body><p>b</p></body></html>",
     "<p>b</p>"),
    ("<p>unclosed <b>bold", "<p>unclosed <b>bold</b></p>"),
    ("</p></div>stray", "<p></p>stray"),  # a stray </p> is an empty paragraph (HTML5)
    ("<ul><li>a<li>b</ul>", "<ul><li>a</li><li>b</li></ul>"),
    ("<h2 id=\"s\">H</h2><br/><hr>", '<h2 id="s">H</h2><br><hr>'),
    ("<table><tr><td colspan=2 onclick=x>c</td></tr></table>",
     '<table><tbody><tr><td colspan="2">c</td></tr></tbody></table>'),
    ("<p>\x00nul</p>", "<p>nul</p>"),
    ("", ""),
])
def test_sanitize(raw: str, clean: str) -> None:
    assert sanitize_html(raw) == clean


def test_sanitising_is_idempotent() -> None:
    raw = ('<p onclick=x>Hi <a href="javascript:1" target=_blank>l</a><img src=a.png>'
           '<script>s</script><ul><li>a<li>b</ul> 1 < 2</p>')
    once = sanitize_html(raw)
    assert sanitize_html(once) == once


@pytest.mark.parametrize(("url", "attr", "ok"), [
    ("https://x.example/", "href", True), ("http://x", "src", True), ("/a/b", "href", True),
    ("#frag", "href", True), ("?q=1", "href", True), ("//cdn.example/x.png", "src", True),
    ("tel:+123", "href", True), ("javascript:x", "href", False), ("vbscript:x", "src", False),
    ("data:image/png;base64,AA", "src", True), ("data:image/png;base64,AA", "href", False),
    ("data:text/html,x", "src", False), ("file:///etc/passwd", "href", False),
    ("\x01javascript:x", "href", False), ("java\nscript:x", "href", False),
])
def test_safe_url(url: str, attr: str, ok: bool) -> None:
    assert safe_url(url, attr=attr) is ok


@pytest.mark.parametrize(("html", "words"), [
    ("", 0),
    ("<p></p>", 0),
    ("<p>one two three</p>", 3),
    ("<p>one</p><p>two</p>", 2),  # a tag separates words
    ("<h1>Title</h1>body<br>next", 3),
    ("don't e-mail me", 3),
    ("Caf\u00e9 na\u00efve r\u00e9sum\u00e9", 3),
    ("a &amp; b &mdash; c", 3),
    ("<script>not counted</script><style>x</style>counted", 1),
    ("  spaced\n\tout  words ", 3),
    ("3 apples, 4.5 pears!", 5),
    ("<img alt=\"not text\" src=x>", 0),
])
def test_word_count(html: str, words: int) -> None:
    assert word_count(html) == words


def test_html_text_decodes_entities() -> None:
    assert " ".join(html_text("<p>a&nbsp;&lt;b&gt;</p>").split()) == "a <b>"
