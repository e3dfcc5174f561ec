# SPDX-License-Identifier: LGPL-2.1-or-later
# Thin front end: meson does the building, scripts/ the orchestration.
#   make demo    build spmd and show it working
#   make check   every test suite; ends with "N passed, N failed, N skipped"
#   make bench   every benchmark, one ratio line per figure
BUILD ?= build

.PHONY: all deps build check demo bench install clean

all: build

deps:
	scripts/install-deps

$(BUILD)/build.ninja:
	meson setup $(BUILD) -Dwerror=true

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

check: deps
	scripts/check

demo: build
	scripts/demo $(BUILD)

bench: build
	scripts/bench $(BUILD)

install: build
	meson install -C $(BUILD)

clean:
	rm -rf $(BUILD) build-san
