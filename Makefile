# Mainflux for Python: build, run and test.
SERVICES = users authn things http ws mqtt postgres-writer postgres-reader
VENV = .venv
BIN = $(VENV)/bin
PREFIX ?= $(HOME)/.local
PYTEST_ARGS ?=

.PHONY: all venv venv-run services test lint proto install run rundev clean bench fuzz $(SERVICES)

all: venv-run
	$(BIN)/python -m pip wheel --quiet --no-deps -w build .
	@ls build/*.whl

# What running needs: the project and its runtime dependencies.
venv-run:
	@./scripts/venv.sh run

# What developing needs as well: test and lint tools (the `dev` extra).
venv:
	@./scripts/venv.sh dev

$(SERVICES): venv-run
	@mkdir -p build
	@ln -sf ../$(BIN)/mainflux-$@ build/mainflux-$@
	@echo "build/mainflux-$@"

services:
	@./scripts/services.sh

test: venv services
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/mainflux
	$(BIN)/python -m pytest -q $(PYTEST_ARGS)

# Contract fuzzing, long: every operation of the platform's OpenAPI document
# (FUZZ_EXAMPLES valid requests each, and as many invalid ones).
FUZZ_EXAMPLES ?= 200
fuzz: venv
	$(BIN)/python benchmarks/fuzz.py --examples $(FUZZ_EXAMPLES)

lint: venv
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy src/mainflux
	$(BIN)/ruff format --check src tests benchmarks

proto: venv
	PY=$(BIN)/python ./scripts/gen-proto.sh

# Its own virtualenv under $(PREFIX)/lib/mainflux, commands linked into $(PREFIX)/bin.
install: all
	python3 -m venv $(PREFIX)/lib/mainflux
	$(PREFIX)/lib/mainflux/bin/python -m pip install --quiet --upgrade build/mainflux-*.whl
	@mkdir -p $(PREFIX)/bin
	@for cmd in mainflux $(addprefix mainflux-,$(SERVICES)); do \
		ln -sf $(PREFIX)/lib/mainflux/bin/$$cmd $(PREFIX)/bin/$$cmd; done
	@echo "installed mainflux and mainflux-<service> into $(PREFIX)/bin"

run: venv-run
	$(BIN)/mainflux run

rundev: venv-run
	./scripts/run.sh

clean:
	rm -rf build dist .pytest_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
