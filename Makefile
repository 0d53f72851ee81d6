# QML Studio: all the set-up a fresh machine needs.
#
#   make run          check Qt's system libraries, create .venv, install, open the demo project
#   make test         the same checks and install, then the whole test suite headless, then
#                     the X11 smoke test (scripts/gui-smoke.sh) when Xvfb and xdotool are there
#   make screenshot   regenerate the screenshots in docs/images/ (offscreen)
#   make clean        remove build output and caches (make distclean also removes .venv)
#
# PYTEST_ARGS is passed to pytest:  make test PYTEST_ARGS="-x -k canary"
# GUI_SMOKE=0 leaves the smoke test out:  make test GUI_SMOKE=0

SHELL := /bin/bash
.DEFAULT_GOAL := help

PYTHON ?= python3
VENV := .venv
VPY := $(VENV)/bin/python
# Written after a successful install; pip runs again only when pyproject.toml is newer.
STAMP := $(VENV)/.qmlstudio-installed
EXTRAS := ibm,mitigation,test
PYTEST_ARGS ?=
GUI_SMOKE ?= 1
DEMO ?= resources/demo.qmls
SCREENSHOT := docs/images/main-window.png

# A real window needs the X11 libraries too; without a display the app runs offscreen.
ifeq ($(QT_QPA_PLATFORM),offscreen)
RUN_PLATFORM := offscreen
else ifneq ($(DISPLAY),)
RUN_PLATFORM := x11
else
RUN_PLATFORM := offscreen
endif

.PHONY: help run test screenshot clean distclean install check-libs-offscreen check-libs-x11

help:
	@sed -n '1,11p' Makefile | sed 's/^# \{0,1\}//'

$(VPY):
	@echo "Creating $(VENV) with $$($(PYTHON) --version 2>&1)"
	@if ! $(PYTHON) -m venv $(VENV); then \
	    rm -rf $(VENV); \
	    if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	        echo "'$(PYTHON) -m venv' failed; installing python3-venv with apt-get" >&2; \
	        export DEBIAN_FRONTEND=noninteractive; \
	        apt-get update -qq && apt-get install -y -qq --no-install-recommends python3-venv \
	            && $(PYTHON) -m venv $(VENV); \
	    else \
	        echo "'$(PYTHON) -m venv' failed. Install venv support with:" >&2; \
	        echo "    sudo apt-get install -y python3-venv" >&2; \
	        exit 1; \
	    fi; \
	fi

$(STAMP): pyproject.toml | $(VPY)
	@echo "Installing QML Studio and its dependencies into $(VENV)"
	@# Without network pip cannot fetch setuptools for an isolated build; the venv's own will do.
	@$(VPY) -m pip install --disable-pip-version-check -q -e ".[$(EXTRAS)]" \
	    || { echo "Retrying without build isolation (offline? using the setuptools in $(VENV))" >&2; \
	         $(VPY) -m pip install --disable-pip-version-check -q --no-build-isolation -e ".[$(EXTRAS)]"; }
	@echo "Compiling the simulator's loops (once, a few seconds)"
	@$(VPY) -m qmlstudio.core._loops
	@$(VPY) -m qmlstudio.core._density_loops
	@touch $@

# The torch extra for the tests (the hybrid models' plugin): pinned to the release whose CPU
# build pip finds on this machine's disk; an unpinned torch would pull a CUDA build of several GB.
TORCH_STAMP := $(VENV)/.qmlstudio-torch
TORCH_PIN := torch==2.13.0

$(TORCH_STAMP): pyproject.toml | $(STAMP)
	@echo "Installing PyTorch ($(TORCH_PIN)) for the hybrid models' tests"
	@$(VPY) -m pip install --disable-pip-version-check -q "$(TORCH_PIN)"
	@touch $@

install: $(STAMP)

check-libs-offscreen:
	@bash scripts/check-system-libs.sh offscreen

check-libs-x11:
	@bash scripts/check-system-libs.sh x11

# PYTHONDONTWRITEBYTECODE emptied: where the environment sets it (this image does), each of the
# suite's hundreds of Python processes (CLI runs, training children, study workers) would
# compile QML Studio's sources again; the .pyc files go to __pycache__ (git ignores them).
test: check-libs-offscreen $(STAMP) $(TORCH_STAMP)
	@config="$$(mktemp -d -t qmlstudio-test-XXXXXX)"; \
	trap 'rm -rf "$$config"' EXIT; \
	QT_QPA_PLATFORM=offscreen QMLSTUDIO_CONFIG_DIR="$$config" PYTHONDONTWRITEBYTECODE= $(VPY) -m pytest $(PYTEST_ARGS)
ifneq ($(GUI_SMOKE),0)
	@# The real app in a real X11 window (Xvfb) under a real mouse (xdotool). As root (CI) the
	@# check installs what is missing; elsewhere a missing Xvfb or xdotool skips it, except in CI.
	@if bash scripts/check-system-libs.sh smoke; then \
	    QMLSTUDIO_PYTHON="$(VPY)" bash scripts/gui-smoke.sh; \
	elif [ "$${CI:-}" = true ]; then \
	    echo "CI: the GUI smoke test cannot run without Xvfb, xdotool and Qt's X11 libraries" >&2; exit 1; \
	else \
	    echo "GUI smoke test SKIPPED: install Xvfb, xdotool and Qt's X11 libraries to run scripts/gui-smoke.sh" >&2; \
	fi
endif

run: check-libs-$(RUN_PLATFORM) $(STAMP)
ifeq ($(RUN_PLATFORM),offscreen)
	@echo "No display: opening the main window offscreen and closing it after 3 s."
	QT_QPA_PLATFORM=offscreen QMLSTUDIO_QUIT_AFTER_MS=$${QMLSTUDIO_QUIT_AFTER_MS:-3000} \
	    $(VENV)/bin/qmlstudio gui $(wildcard $(DEMO))
else
	$(VENV)/bin/qmlstudio gui $(wildcard $(DEMO))
endif

screenshot: check-libs-offscreen $(STAMP)
	@mkdir -p $(dir $(SCREENSHOT))
	@config="$$(mktemp -d -t qmlstudio-shot-XXXXXX)"; \
	trap 'rm -rf "$$config"' EXIT; \
	export QT_QPA_PLATFORM=offscreen QMLSTUDIO_CONFIG_DIR="$$config"; \
	$(VPY) -m qmlstudio.gui.screenshot $(SCREENSHOT) $(wildcard $(DEMO)) && \
	$(VPY) -m qmlstudio.gui.screenshot --training docs/images/main-window-training.png $(DEMO) && \
	$(VPY) -m qmlstudio.gui.screenshot --editor docs/images/editor.png && \
	$(VPY) -m qmlstudio.gui.dataset_panel --screenshot docs/images/dataset-panel.png && \
	$(VPY) -m qmlstudio.gui.training_dock --screenshot docs/images/training.png && \
	$(VPY) -m qmlstudio.gui.analysis_screenshots docs/images

clean:
	rm -rf build dist *.egg-info plugins/*.egg-info .pytest_cache .import_linter_cache
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -f $(STAMP)

distclean: clean
	rm -rf $(VENV)
