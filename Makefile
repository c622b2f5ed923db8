# showctl — make demo (the demo class on the simulated rig), make test (everything CI runs).
SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
SPEED ?= 1
PYTEST_ARGS ?=

.PHONY: install demo test test-fast lint bench clean system-deps tracks library realset freshset trainset libopenmpt screenshots

# The venv is rebuilt only when pyproject.toml or constraints.txt (the analysis stack's pinned versions) changed
# since the last install: `make install` is quick.
install: system-deps $(VENV)/.installed

$(VENV)/.installed: pyproject.toml constraints.txt
	@test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -c constraints.txt -e '.[dev,link]'
	@touch $@

# System packages the real rig parts need (JACK for MIDI, PortAudio for audio). Installs them when run as
# root on Debian/Ubuntu; otherwise says what is missing. A quick dpkg check when they are there.
system-deps:
	@bash .ci/system-deps

tracks: install
	$(PY) -m showctl.demo.tracks tracks/demo

# The synthesized studio library the example classes (cues/retro-run-45.yaml, cues/sled-pull-30.yaml) play:
# 10 tracks, 47 minutes, 120 MB, about 25 s to write.
library: install
	$(PY) -m showctl.demo.library tracks/library

# The real-music evaluation set (bench/realset.py): 8 songs with hand-made beat grids from Debian's Frets on
# Fire song packs (apt-get download, nothing installed), mixed into tracks/realset/, and LMMS's demo songs
# (Debian's lmms-common, bench/realset_lmms.py) rendered there by lmms, which this installs with apt-get when
# run as root (not needed by CI; without it the LMMS songs are left out, one line says so). Needs the network
# once; rendering takes a few minutes.
realset: install
	@command -v lmms >/dev/null || [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || { \
	  echo "installing lmms (renders the LMMS demo songs)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lmms >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lmms >/dev/null; } || \
	  echo "realset: apt-get install lmms failed: the LMMS demo songs are left out"; }
	$(PY) bench/realset.py tracks/realset

# The fresh evaluation set (bench/freshset.py): game music tracker modules from Debian's game data packages
# (apt-get download, nothing of them installed), rendered by libopenmpt (libopenmpt0, which this installs
# with apt-get when run as root), each song's truth the rows its module played. Every song is held out:
# `$(PY) bench/bench_realset.py tracks/freshset` scores it once per proposed change, never to tune. Needs
# the network once; about two minutes.
freshset: install libopenmpt
	$(PY) bench/freshset.py tracks/freshset

# The training set (bench/trainset.py): the same pipeline on other Debian game packages' modules (none of the
# fresh set's packages or songs), truths marked group "train": to tune on. `$(PY) bench/bench_realset.py
# tracks/trainset` scores it. Needs the network once; a few minutes.
trainset: install libopenmpt
	$(PY) bench/trainset.py tracks/trainset

libopenmpt:
	@/sbin/ldconfig -p 2>/dev/null | grep -q 'libopenmpt\.so\.0' || [ "$$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null || { \
	  echo "installing libopenmpt0 (renders the modules)"; \
	  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenmpt0 >/dev/null || \
	  { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libopenmpt0 >/dev/null; } || \
	  echo "apt-get install libopenmpt0 failed"; }

demo: install tracks
	$(VENV)/bin/showctl run cues/demo.yaml --sim --speed $(SPEED)

lint: install
	$(VENV)/bin/ruff check showctl tests bench
	$(VENV)/bin/mypy

test: lint
	$(VENV)/bin/pytest $(PYTEST_ARGS)

test-fast: lint
	$(VENV)/bin/pytest -m "not slow" $(PYTEST_ARGS)

bench: install tracks
	@for b in bench/bench_*.py; do echo "== $$b"; $(PY) $$b || exit 1; done

# The class screen's pictures in docs/ (README), taken by the browser tests; a plain test run leaves docs/ alone.
screenshots: lint
	SHOWCTL_UPDATE_DOCS=1 $(VENV)/bin/pytest -q tests/test_web_browser.py tests/test_live_web.py -k "screenshot or taps_on_the_page"

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
