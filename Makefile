# The README's two commands are `make run` and `make test`; both set everything up first (idempotently).
PY := .venv/bin/python
export PYTHONHASHSEED := 0
export HF_HUB_OFFLINE := 1
export HF_DATASETS_OFFLINE := 1
export GX_ANALYTICS_ENABLED := false

.PHONY: setup run test test-slow lint check bench train

setup:
	@bash scripts/setup.sh

run: setup
	.venv/bin/beam run pipelines/build_sft.py --config pipeline.yaml

# pytest exits 5 when it selects no test (e.g. a -m filter that matches nothing): report it, do not fail.
test: setup
	@$(PY) -m pytest -q; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no tests selected"; exit 0; fi; exit $$rc

test-slow: setup
	@$(PY) -m pytest -q -m slow; rc=$$?; if [ $$rc -eq 5 ]; then echo "pytest: no slow tests"; exit 0; fi; exit $$rc

lint: setup
	.venv/bin/ruff check .

# The style we claim, enforced (CI runs it before the tests; .pre-commit-config.yaml runs the same three).
check: setup
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy

# Each bench prints ratios against a baseline measured side by side in the same run (the machines are noisy).
# bench/train.py reads small SFT and RL shards, built here first into $(BENCH_DATA) (120 SFT tasks, 24 RL prompts;
# a rerun reuses the finished records).
BENCH_DATA ?= out/bench
bench: setup
	$(PY) bench/sandbox.py
	$(PY) bench/synthesis.py
	$(PY) bench/validators.py
	$(PY) bench/pipeline.py
	.venv/bin/beam run pipelines/build_sft.py --config pipeline.yaml run.output_dir=$(BENCH_DATA) tasks.count=120 run.publish=false
	.venv/bin/beam run pipelines/build_rl.py --config pipeline.yaml run.output_dir=$(BENCH_DATA) tasks.count=24
	$(PY) bench/train.py --sft-data $(BENCH_DATA)/thyme-sft/data --rl-data $(BENCH_DATA)/thyme-rl/data

# The core claim in miniature (docs/results.md): build the miniature's shards, then train seed $(SEED) with the
# no-tool baseline; about 30 min on 2 cores. A rerun reuses finished records and checkpoints.
SEED ?= 0
train: setup
	.venv/bin/beam run pipelines/build_sft.py --config configs/miniature.yaml
	.venv/bin/beam run pipelines/build_rl.py --config configs/miniature.yaml tasks.count=200 tasks.base_seed=500000
	$(PY) train/run.py --config configs/miniature.yaml --stages sft,baseline,compare,grpo,eval \
		train.seed=$(SEED) --output-dir out/mini/seed-$(SEED)
