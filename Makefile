# make help lists the targets. Every target does its own set-up on a fresh Debian machine
# (uv, the venv, a Docker engine and the base image), so `make pipeline` and `make test` are
# the only two commands a new user needs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# Base image: empty means "the public python:3.11-slim-bookworm if it can be pulled, else the
# offline debootstrap base" (see containers/base/). Set BASE_IMAGE to force one.
BASE_IMAGE ?=
OFFLINE_BASE ?= mpg-base:bookworm
# An extra CA bundle for apt/pip inside `docker build` (TLS-intercepting proxies). Defaults to
# what this machine's pip is told to trust, when that is set.
EXTRA_CA_BUNDLE ?= $(or $(PIP_CERT),$(SSL_CERT_FILE))
IMAGE_TAG ?= latest
COMPOSE ?= $(shell docker compose version >/dev/null 2>&1 && echo "docker compose" || echo docker-compose)
PYTEST_ARGS ?=
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)

export MPG_IMAGE_TAG := $(IMAGE_TAG)

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | \
		awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}'

.PHONY: venv
venv: ## install uv if missing and sync the locked dev environment (.venv)
	@command -v uv >/dev/null 2>&1 || [ -x $(HOME)/.local/bin/uv ] || python3 -m pip install --user --quiet uv
	$(UV) sync --frozen

.PHONY: engine
engine: ## make sure a Docker engine runs (installs and starts one on Debian if needed)
	@containers/base/ensure-engine.sh

.PHONY: base
base: engine ## pick the base image (public, else the offline debootstrap base)
	@mkdir -p build; containers/base/select-base.sh "$(BASE_IMAGE)" "$(OFFLINE_BASE)" > build/base-image

.PHONY: images
images: base ## build mpg-builder, mpg-core and the three images
	@mkdir -p build/ca; ca_arg=""; \
	if [ -n "$(EXTRA_CA_BUNDLE)" ]; then cp "$(EXTRA_CA_BUNDLE)" build/ca/extra-ca.pem; \
		ca_arg="--build-arg EXTRA_CA=build/ca/extra-ca.pem"; fi; \
	base="$$(cat build/base-image)"; echo "base image: $$base"; set -e; \
	docker build -q -f containers/core/Dockerfile --target builder -t mpg-builder:$(IMAGE_TAG) \
		--build-arg BASE_IMAGE=$$base $$ca_arg . ; \
	docker build -q -f containers/core/Dockerfile -t mpg-core:$(IMAGE_TAG) \
		--build-arg BASE_IMAGE=$$base $$ca_arg . ; \
	for image in preprocessing training serving; do \
		docker build -q -f containers/$$image/Dockerfile -t mpg-$$image:$(IMAGE_TAG) \
			--build-arg BUILDER_IMAGE=mpg-builder:$(IMAGE_TAG) \
			--build-arg CORE_IMAGE=mpg-core:$(IMAGE_TAG) . ; \
	done; \
	docker image ls --format '{{.Repository}}:{{.Tag}}  {{.Size}}' | grep -E '^mpg-(preprocessing|training|serving):$(IMAGE_TAG) '

.PHONY: pipeline
pipeline: images ## run the whole pipeline locally (data, preprocessing, training, serving) and query the endpoint
	@containers/local-pipeline.sh "$(COMPOSE)"

.PHONY: down
down: ## stop the local pipeline's containers
	$(COMPOSE) down --remove-orphans

.PHONY: readme
readme: venv ## rewrite launch/README.md's settings tables from the declarations (settings/declared.py)
	$(UV) run python -m mpg_launch.settings.readme launch/README.md

.PHONY: lint
lint: venv ## ruff (lint and format check) and mypy
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

.PHONY: test-unit
test-unit: venv ## the unit tier only (tests/unit: pure functions, no server, no Docker)
	$(UV) run pytest tests/unit $(PYTEST_ARGS)

.PHONY: test-aws
test-aws: venv ## the launcher against botocore's Stubber and a moto server (tests/aws, no Docker)
	$(UV) run pytest tests/aws $(PYTEST_ARGS)

.PHONY: test-no-docker
test-no-docker: venv ## every tier that needs no Docker: unit, contract, process, serving, aws
	$(UV) run pytest -m "not docker" $(PYTEST_ARGS)

.PHONY: test-tools
test-tools: ## install the registry and htpasswd the launcher tests run (Debian, root)
	@command -v docker-registry >/dev/null && command -v htpasswd >/dev/null || \
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
			docker-registry apache2-utils >/dev/null; }

.PHONY: test
test: venv images test-tools ## all tests: unit, contract, process, serving, aws, image (real Docker, the launcher's --local runs in tests/image/launch)
	$(UV) run pytest $(PYTEST_ARGS)

.PHONY: bench
bench: images ## benchmark the serving image with wrk: req/s, rows/s, latency, CPU/request, cold start, memory, size
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(UV) run python containers/serving/bench/bench.py --image mpg-serving:$(IMAGE_TAG) $(BENCH_ARGS)

.PHONY: bench-tables
bench-tables: images ## the serving image on a table with text, ordinal and ~60-level categories (four families, both tasks) against Auto MPG: ratios
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(UV) run python containers/serving/bench/tables_bench.py --image mpg-serving:$(IMAGE_TAG) $(BENCH_TABLES_ARGS)

.PHONY: bench-transform
bench-transform: images ## time a whole local batch transform (1.5 M rows in 6 objects, moto S3) at 1, 2 and 3 instances: rows/s
	$(UV) run python launch/bench/transform_bench.py --image-tag $(IMAGE_TAG) $(BENCH_TRANSFORM_ARGS)

.PHONY: bench-big-body
bench-big-body: images ## asynchronous endpoints' big bodies through the serving image (50 MB, 200 MB, 1 GB CSV): rows/s, peak memory
	$(UV) run python containers/serving/bench/big_body_bench.py --image mpg-serving:$(IMAGE_TAG) $(BENCH_BIG_BODY_ARGS)

.PHONY: soak
soak: images ## 10 minutes at 32 connections against the serving image; fails on errors or replaced workers
	@command -v wrk >/dev/null || { apt-get update -qq && apt-get install -y -qq wrk >/dev/null; }
	$(UV) run python containers/serving/bench/soak.py --image mpg-serving:$(IMAGE_TAG) $(SOAK_ARGS)

.PHONY: clean
clean: down ## remove the local pipeline's work folder and build scratch
	rm -rf work build
