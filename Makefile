# Switchboard: `make run` to start everything, `make test` to check everything.
SHELL := /bin/bash
PY := .venv/bin/python
RASA := .venv/bin/rasa
MODEL := models/switchboard.tar.gz
export RASA_TELEMETRY_ENABLED := false
export TF_CPP_MIN_LOG_LEVEL := 2
export PYTHONPATH := $(CURDIR)

.PHONY: help run run-production install train db test lint unit stories e2e faults benchmark-nlu calibrate-nlu benchmark-kb calibrate-kb kb-words benchmark-channels benchmark-insights benchmark-load shell clean

help:
	@echo "make run            install, train if needed, migrate + seed the database, start all services"
	@echo "make run-production the same in production mode: several instances behind HAProxy, on PostgreSQL, Redis and RabbitMQ"
	@echo "make test           lint, unit tests, conversation tests, end-to-end and fault tests"
	@echo "make faults         production mode's fault tests (PostgreSQL, Redis, RabbitMQ, HAProxy)"
	@echo "make benchmark-nlu  intent accuracy, macro F1 and off-topic rejection on every held-out NLU set"
	@echo "make calibrate-nlu  the NLU rejection threshold table on the validation set"
	@echo "make benchmark-kb   help-centre retrieval: BM25, embeddings and hybrid, 17 and 200 articles"
	@echo "make calibrate-kb   the help centre's constants, chosen on its validation set"
	@echo "make kb-words       the help centre's word counts, after editing data/nlu/"
	@echo "make benchmark-channels  response times per channel (with make run going)"
	@echo "make benchmark-insights  the Insights page and report on 100,000 conversations (SQLite, PostgreSQL)"
	@echo "make benchmark-load  1, 10 and 50 customers on every channel, and a stock Rasa bot beside"
	@echo "make shell          talk to the running assistant in the terminal"
	@echo "make screenshots    console screenshots for the README (docs/screenshots)"

install:
	@scripts/bootstrap.sh

train: install
	@$(PY) -m bot train

db: install
	@$(PY) -m bot db upgrade
	@$(PY) -m bot seed --if-empty

run: install train db
	@echo
	@echo "Starting Switchboard (Ctrl-C stops everything):"
	@echo
	@$(PY) -m bot services
	@echo
	@$(PY) -m honcho start -f Procfile

# Production mode (README, "Production mode"): installs HAProxy if it is missing.
run-production: install train
	@scripts/run_production.sh

shell: install
	@$(PY) -m bot run shell

test: install lint unit train stories e2e faults
	@echo "All checks passed."

lint: install
	@.venv/bin/ruff check .
	@.venv/bin/ruff format --check .
	@.venv/bin/mypy bot actions knowledge_base channels benchmarks
	@$(PY) scripts/check_nlu_data.py
	@$(PY) -m scripts.check_kb_data
	@$(PY) -m scripts.check_near_questions
	@$(PY) -m scripts.count_customer_words --check

unit: install browser haproxy
	@$(PY) -m pytest tests/unit -q

stories: train
	@scripts/test_stories.sh

e2e: train browser
	@$(PY) -m pytest tests/e2e -q

# Production mode's fault tests: two Rasa instances behind HAProxy, on the local
# PostgreSQL, Redis and RabbitMQ (a database, key prefix and queue of their own).
faults: train haproxy
	@$(PY) -m pytest tests/production -q

# The console pages in docs/screenshots/ (used by the README), from the e2e stack.
.PHONY: screenshots
screenshots: train browser
	@SCREENSHOT_DIR=docs/screenshots $(PY) -m pytest tests/e2e/test_console_browser.py tests/e2e/test_insights_browser.py -q

.PHONY: browser
browser:
	@scripts/install_browser.sh

.PHONY: haproxy
haproxy:
	@scripts/install_haproxy.sh

benchmark-nlu: train
	@$(PY) -m benchmarks.nlu

# The NLU rejection threshold, chosen on the validation set (data/validation/).
calibrate-nlu: train
	@$(PY) -m benchmarks.calibrate_nlu

# Help-centre retrieval on the frozen test set (tests/kb_holdout/).
benchmark-kb: install
	@$(PY) -m benchmarks.kb

# The help centre's word counts over customers' messages (data/nlu/), after editing them.
kb-words: install
	@$(PY) -m scripts.count_customer_words

# The help centre's constants, chosen on data/validation/kb/ (never on the test set).
calibrate-kb: install
	@$(PY) -m benchmarks.kb --calibrate

# The Insights page and report at scale; --postgres needs TEST_POSTGRES_URL's server.
benchmark-insights: install
	@$(PY) -m benchmarks.insights
	@$(PY) -m benchmarks.insights --postgres

# Needs the stack running (`make run` in another terminal).
benchmark-channels: install
	@$(PY) -m benchmarks.channels

# Starts its own stack and a stock `rasa init` bot (trained once, cached in var/);
# options: make benchmark-load LOAD="--customers 10 --duration 30"
benchmark-load: train
	@$(PY) -m benchmarks.load $(LOAD)

clean:
	rm -rf results .pytest_cache .mypy_cache .ruff_cache
