"""Make the README's console screenshots: the app's own SVG screenshots, converted to PNG.

Run from the repository root: `.venv/bin/python docs/console/make_screens.py` (needs the
`docs` extra: `pip install -e '.[docs]'` for cairosvg, which needs the system's libcairo).
The console is fed by the snapshot tests' replay of recorded admin-API answers
(tests/helpers/console_replay.py), so the pictures are the same on every run and show a busy
box rather than an empty test server.
"""

from __future__ import annotations

import asyncio
import re
import sys
from collections.abc import Sequence
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(ROOT))

from tests.helpers.console import SIZE  # noqa: E402
from tests.helpers.console_replay import log_in, recorded_app, settle  # noqa: E402

#: file name → keys pressed after logging in
SCREENS: dict[str, Sequence[str]] = {
    "login": (),
    "overview": (),
    "jobs": ("2",),
    "job-detail": ("2", "enter"),
    "accounts": ("3",),
    "grant-credits": ("3", "down", "g", "5", "0", "0", "tab", *"Goodwill"),
    "requests": ("5", "enter"),
    "account-detail": ("3", "down", "enter"),
    "users": ("4",),
    "audit": ("6",),
    "help": ("question_mark",),
}


async def shoot(name: str, keys: Sequence[str]) -> Path:
    app = recorded_app()
    async with app.run_test(size=SIZE) as pilot:
        if name != "login":
            await log_in(pilot)
        else:
            await pilot.pause()
        for key in keys:
            await pilot.press(key)
            await settle(pilot)
        await settle(pilot)
        svg = HERE / f"{name}.svg"
        app.save_screenshot(svg.name, path=str(HERE))
    return svg


def to_png(svg: Path) -> Path:
    """Rich's SVG asks for Fira Code from a CDN; cairosvg renders local fonts only, so the
    SVG is pointed at DejaVu Sans Mono (a monospace font a Debian box has) first."""
    import cairosvg  # type: ignore[import-untyped]

    text = svg.read_text(encoding="utf-8")
    text = re.sub(r"@font-face \{.*?\}", "", text, flags=re.S)
    text = text.replace("Fira Code, monospace", "DejaVu Sans Mono, monospace")
    png = svg.with_suffix(".png")
    cairosvg.svg2png(bytestring=text.encode(), write_to=str(png), output_width=1600)
    svg.unlink()
    return png


async def main(names: Sequence[str]) -> None:
    for name in names or SCREENS:
        png = to_png(await shoot(name, SCREENS[name]))
        print(png.relative_to(ROOT))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1:]))
