# residue: the two commands a newcomer needs are `make run` and `make test`.
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip
STAMP := $(VENV)/.installed
WEB := frontend
WEB_STAMP := $(WEB)/node_modules/.installed
APT_PACKAGES := chromium chromium-driver fluidsynth fluid-soundfont-gm timgm6mb-soundfont

.PHONY: run test setup system web protocol check-protocol lint unit web-test e2e bench clean

run: setup web
	$(VENV)/bin/residue serve

test: setup system web check-protocol lint unit web-test e2e

setup: $(STAMP)

# torch is pinned to the CPU build that lies on disk; an open range pulls a multi-GB CUDA build.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet torch==2.13.0
	$(PIP) install --quiet -e '.[test]'
	# Basic Pitch's wheel carries its ONNX model; its metadata would pull TensorFlow, so no deps.
	$(PIP) install --quiet --no-deps basic-pitch==0.4.0
	touch $(STAMP)

# Debian packages for the browser tests and MIDI rendering (root on these machines).
system:
	@missing=""; for p in $(APT_PACKAGES); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		echo "installing:$$missing"; \
		SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
		$$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing; \
	fi

web: $(WEB_STAMP)
	cd $(WEB) && npm run build --silent

$(WEB_STAMP): $(WEB)/package-lock.json
	cd $(WEB) && npm ci --no-audit --no-fund --loglevel=error
	touch $(WEB_STAMP)

# The wire contract: protocol.py -> shared/protocol.schema.json -> shared/protocol.ts.
protocol: setup $(WEB_STAMP)
	$(PY) -m residue.protocol > shared/protocol.schema.json
	$(PY) -m residue.protocol --fixtures shared/fixtures
	cd $(WEB) && npm run --silent protocol

check-protocol: protocol
	@git diff --exit-code -- shared/ || { echo "shared/ is stale: run 'make protocol' and commit"; exit 1; }

lint: setup
	$(VENV)/bin/ruff check server tests benchmarks e2e
	$(VENV)/bin/mypy
	cd $(WEB) && npm run --silent typecheck

unit: setup
	$(PY) -m pytest tests

web-test: $(WEB_STAMP)
	cd $(WEB) && npm test --silent

e2e: setup system web
	$(PY) -m pytest e2e

# Speed and quality figures (printed against peers measured in the same run; not part of `test`).
bench: setup system
	$(PY) benchmarks/nmf.py
	$(PY) benchmarks/audition.py
	$(PY) benchmarks/transcription.py
	$(PY) benchmarks/load.py

clean:
	rm -rf $(VENV) $(WEB)/node_modules $(WEB)/dist .residue
