"""config/igny8d.toml documents every setting, and its values are the defaults; the README
documents every IGNY8_* variable and every flag of the command line."""

from __future__ import annotations

import argparse
import re

from igny8d.cli import _parser
from igny8d.settings import SECTIONS, Settings, load_settings
from tests.helpers.paths import ROOT

CONFIG = ROOT / "config" / "igny8d.toml"
README = ROOT / "README.md"


def test_every_setting_is_documented() -> None:
    text = CONFIG.read_text()
    for name in Settings.model_fields:
        assert re.search(rf"^#? ?{name} = ", text, re.M), f"{name} missing from igny8d.toml"


def test_every_setting_has_a_section() -> None:
    placed = {n for names in SECTIONS.values() for n in names}
    assert placed == set(Settings.model_fields)


def test_file_values_are_the_defaults() -> None:
    assert load_settings(CONFIG, env={}) == Settings()


def test_readme_names_every_variable() -> None:
    text = README.read_text()
    missing = [f"IGNY8_{name.upper()}" for name in Settings.model_fields
               if f"`IGNY8_{name.upper()}`" not in text]
    assert not missing, f"README.md does not document {missing}"


def test_readme_names_every_flag() -> None:
    text = README.read_text()
    flags: set[str] = set()
    parsers = [_parser()]
    while parsers:
        parser = parsers.pop()
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                parsers.extend(action.choices.values())
            flags.update(action.option_strings)
    missing = sorted(flag for flag in flags
                     if not re.search(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", text))
    assert not missing, f"README.md does not document {missing}"
