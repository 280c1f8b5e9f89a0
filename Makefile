# Mainflux for Python: build, run and test.
SERVICES = users authn things http ws mqtt coap postgres-writer postgres-reader ui bootstrap provision
VENV = .venv
BIN = $(VENV)/bin
PREFIX ?= $(HOME)/.local
# Test processes in parallel (pytest-xdist); every test provisions its own servers.
PYTEST_WORKERS ?= auto
PYTEST_ARGS ?=
# Containers (docker/): images $(MF_DOCKER_REPO)/<service> and $(MF_DOCKER_REPO)/allinone.
MF_DOCKER_REPO ?= mainflux
MF_RELEASE_TAG ?= latest
export MF_DOCKER_REPO MF_RELEASE_TAG
DOCKERS = $(addprefix docker_,allinone $(SERVICES))
DOCKERS_DEV = $(addprefix docker_dev_,allinone $(SERVICES))
# `make cleandocker pv=true` removes the data volumes too.
pv ?=
# Extra compose files for `make rundocker`, e.g. overrides=docker/docker-compose.nats-debugging.yml
overrides ?=

.PHONY: all venv venv-run services test lint proto install run rundev clean bench fuzz \
	$(SERVICES) dockers dockers_dev $(DOCKERS) $(DOCKERS_DEV) cleandocker rundocker docker-test

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
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(PYTEST_ARGS)

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

# Images with Docker or Podman (whichever is installed; MF_ENGINE=docker|podman forces one).
dockers:
	./scripts/docker-build.sh allinone $(SERVICES)

$(DOCKERS): docker_%:
	./scripts/docker-build.sh $*

# The same images from a wheel built here (faster: nothing is built inside the image).
dockers_dev: venv-run
	./scripts/docker-build.sh --dev allinone $(SERVICES)

$(DOCKERS_DEV): docker_dev_%: venv-run
	./scripts/docker-build.sh --dev $*

# Stops and removes the containers and images, keeps the data volumes unless pv=true.
cleandocker:
	MF_DOCKER_PV=$(pv) ./scripts/docker-clean.sh

# The microservice deployment (docker/docker-compose.yml); `make run` is the all-in-one.
rundocker:
	@./scripts/docker-run.sh $(overrides)

# Builds the images and runs them: the all-in-one on a volume, the microservices end to end.
docker-test: venv
	START_BROKERS=0 ./scripts/services.sh
	./scripts/docker-test.sh
