"""config/igny8d.toml documents every setting, and its values are the defaults."""

from __future__ import annotations

import re
from pathlib import Path

from igny8d.settings import SECTIONS, Settings, load_settings

CONFIG = Path(__file__).resolve().parents[1] / "config" / "igny8d.toml"


def test_every_setting_is_documented():
    text = CONFIG.read_text()
    for name in Settings.model_fields:
        assert re.search(rf"^#? ?{name} = ", text, re.M), f"{name} missing from igny8d.toml"


def test_every_setting_has_a_section():
    placed = {n for names in SECTIONS.values() for n in names}
    assert placed == set(Settings.model_fields)


def test_file_values_are_the_defaults():
    assert load_settings(CONFIG, env={}) == Settings()
