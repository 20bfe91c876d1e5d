"""The embeddings settings (threshold per model, linkage, model path) and what they select,
without the embeddings extra: the provider, the readable failure when the extra is missing,
and a server start that imports neither sentence-transformers nor torch even when configured."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from igny8d.ai.providers import embedded, provider_for
from igny8d.ai.providers.embedded import EmbeddedProvider, resolve
from igny8d.ai.providers.local import LocalProvider
from igny8d.ai.types import ProviderError
from igny8d.settings import Settings, SettingsError, load_settings
from tests.helpers.paths import ROOT


def test_thresholds_per_model_from_the_environment_and_a_file(tmp_path) -> None:
    s = load_settings(env={"IGNY8_EMBEDDING_THRESHOLDS": "nomic-embed-text=0.7, e5=0.8",
                           "IGNY8_EMBEDDING_THRESHOLD": "0.5"})
    assert s.embedding_thresholds == {"nomic-embed-text": 0.7, "e5": 0.8}
    assert s.embedding_threshold_for("nomic-embed-text") == 0.7
    assert s.embedding_threshold_for("NOMIC-EMBED-TEXT") == 0.7
    assert s.embedding_threshold_for("/models/e5/") == 0.8  # a path: its last part
    assert s.embedding_threshold_for("text-embedding-3-small") == 0.5
    assert s.embedding_threshold_for(None) == 0.5
    config = tmp_path / "igny8d.toml"
    config.write_text('[ai]\nembedding_thresholds = ["all-MiniLM-L6-v2=0.55"]\n'
                      'embedding_linkage = "average"\n')
    s = load_settings(config, env={})
    assert s.embedding_thresholds == {"all-MiniLM-L6-v2": 0.55}
    assert s.embedding_linkage == "average"
    assert Settings(embedding_thresholds={"m": 0.3}).embedding_threshold_for("m") == 0.3


@pytest.mark.parametrize("env, message", [
    ({"IGNY8_EMBEDDING_THRESHOLDS": "nomic-embed-text"}, "expected model=threshold"),
    ({"IGNY8_EMBEDDING_THRESHOLDS": "m=1.5"}, "threshold of 'm' must be in (0, 1]"),
    ({"IGNY8_EMBEDDING_THRESHOLDS": "m=high"},
     "(IGNY8_EMBEDDING_THRESHOLDS): Value error, 'm=high': 'high' is not a number"),
    ({"IGNY8_EMBEDDING_THRESHOLD": "0"}, "IGNY8_EMBEDDING_THRESHOLD"),
    ({"IGNY8_EMBEDDING_LINKAGE": "single"}, "IGNY8_EMBEDDING_LINKAGE"),
])
def test_bad_embedding_settings_are_one_readable_line(env, message) -> None:
    with pytest.raises(SettingsError) as err:
        load_settings(env=env)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_the_model_path_selects_the_in_process_provider() -> None:
    assert type(provider_for(None, Settings())) is LocalProvider
    chosen = provider_for(None, Settings(embedding_model_path="all-MiniLM-L6-v2",
                                         local_cluster_max_ids=321))
    assert isinstance(chosen, EmbeddedProvider) and chosen.max_cluster_ids == 321
    assert chosen.embedding_model == "all-MiniLM-L6-v2"


def test_a_model_name_is_not_a_path_unless_it_is_a_directory(tmp_path) -> None:
    assert resolve("some-org/some-model") == "some-org/some-model"
    assert resolve(str(tmp_path)) == str(tmp_path.resolve())


async def test_without_the_extra_the_failure_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setattr(embedded, "available", lambda: False)
    embedded._load.cache_clear()
    embedded.embedder_for.cache_clear()
    try:
        with pytest.raises(ProviderError, match=r"^In-process embeddings need "
                                                r"sentence-transformers: pip install "
                                                r"'igny8d\[embeddings\]'\.$"):
            await EmbeddedProvider("all-MiniLM-L6-v2").embed(("espresso",))
    finally:
        embedded._load.cache_clear()


@pytest.mark.subprocess
def test_the_server_start_imports_no_model_code_even_when_configured() -> None:
    code = ("import sys, igny8d.app, igny8d.cli\n"
            "from igny8d.ai.providers import provider_for\n"
            "from igny8d.settings import load_settings\n"
            "provider_for(None, load_settings())\n"
            "print(sorted({m.split('.')[0] for m in sys.modules} & "
            "{'sentence_transformers', 'torch', 'transformers', 'numpy'}))")
    env = {**os.environ, "IGNY8_EMBEDDING_MODEL_PATH": "all-MiniLM-L6-v2"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT, env=env)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr
