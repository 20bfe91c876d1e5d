"""Item 16 of issue 16: CHANGELOG.md in the reference's "Change Management" shape — per version
a date, sections by type, each entry a description, its areas and, when needed, migration
notes — starting with the current version."""

from __future__ import annotations

import datetime
import re
from dataclasses import dataclass, field

from igny8d import __version__
from tests.helpers.paths import ROOT

TYPES = ("Added", "Changed", "Fixed", "Deprecated", "Removed", "Security")
VERSION = re.compile(r"^## \[(Unreleased|\d+\.\d+\.\d+)\](?: - (\d{4}-\d{2}-\d{2}))?$")


@dataclass
class Entry:
    description: str
    details: dict[str, str] = field(default_factory=dict)


@dataclass
class Release:
    version: str
    date: datetime.date | None
    sections: dict[str, list[Entry]] = field(default_factory=dict)


def parse(text: str) -> list[Release]:
    """The releases, failing on any line outside the shape (fenced blocks are skipped)."""
    releases: list[Release] = []
    section: list[Entry] | None = None
    fenced = False
    for number, line in enumerate(text.splitlines(), 1):
        where = f"CHANGELOG.md:{number}: {line!r}"
        if line.startswith("```"):
            fenced = not fenced
            continue
        if fenced or not line.strip():
            continue
        if line.startswith("## "):
            match = VERSION.match(line)
            assert match, where
            version, date = match.groups()
            assert (version == "Unreleased") is (date is None), where
            releases.append(Release(version, datetime.date.fromisoformat(date)
                                    if date else None))
            section = None
        elif line.startswith("### "):
            kind = line[4:]
            assert releases and kind in TYPES, where
            assert kind not in releases[-1].sections, f"{where}: twice"
            section = releases[-1].sections.setdefault(kind, [])
        elif line.startswith("- "):
            assert section is not None, f"{where}: an entry outside a type section"
            section.append(Entry(line[2:]))
        elif line.startswith("  - "):
            assert section, where
            key, sep, value = line[4:].partition(": ")
            assert sep and key in ("Areas", "Migration") and value.strip(), where
            assert key not in section[-1].details, where
            section[-1].details[key] = value
        elif line.startswith("  "):
            assert section and not section[-1].details, f"{where}: continues no description"
            section[-1].description += " " + line.strip()
        else:
            assert section is None, f"{where}: prose inside a type section"
    return releases


def test_changelog_has_the_reference_shape() -> None:
    releases = parse((ROOT / "CHANGELOG.md").read_text())
    assert releases, "no release"
    released = [r for r in releases if r.version != "Unreleased"]
    assert released[0].version == __version__  # starts with the current version
    assert all(r.version == "Unreleased" for r in releases[:len(releases) - len(released)])
    dates = [r.date for r in released]
    assert dates == sorted(dates, reverse=True)  # newest first
    for release in releases:
        assert release.sections, release.version
        order = [TYPES.index(kind) for kind in release.sections]
        assert order == sorted(order), (release.version, list(release.sections))
        for kind, entries in release.sections.items():
            assert entries, (release.version, kind)
            for entry in entries:
                assert len(entry.description) > 20, entry
                assert "Areas" in entry.details, entry


def test_parser_refuses_what_is_out_of_shape() -> None:
    good = "## [1.0.0] - 2026-01-02\n### Added\n- A thing that was added.\n  - Areas: x\n"
    assert parse(good)[0].sections["Added"][0].details == {"Areas": "x"}
    for bad in (good.replace("Added", "New"), good.replace("2026-01-02", "Jan 2"),
                good.replace("  - Areas", "  - Area"),
                "### Added\n- x\n", good + "stray prose\n"):
        try:
            parse(bad)
        except AssertionError:
            continue
        raise AssertionError(f"accepted: {bad!r}")
