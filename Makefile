# Regenerate everything: `make all` (data, every study, reports); `make test` (test suite).
# Real file targets: an executed notebook depends on its source notebook, the study.yaml,
# the raw data and the package modules it imports (found by analysis.pipeline.deps, so an
# edit to a module that only notebook 06 uses re-executes only notebook 06 and the report);
# a second `make all` with nothing changed runs nothing, and studies run side by side on
# every core (`-j` defaults to the number of cores).

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:
.SECONDARY:
MAKEFLAGS += --no-builtin-rules
# every core by default: studies (and independent notebooks of a study) run side by side;
# `make -j1 ...` on the command line still wins
ifeq ($(filter -j%,$(MAKEFLAGS)),)
MAKEFLAGS += -j$(shell nproc 2>/dev/null || echo 2)
endif

PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
KERNEL := imid-analysis
ENV_STAMP := $(VENV)/.stamp-env
KERNEL_STAMP := $(VENV)/.stamp-kernel

STUDIES := $(patsubst data/%/study.yaml,%,$(wildcard data/*/study.yaml))
# Studies whose demo cohort `make data` generates (a generator in src/analysis/synthetic).
DEMO_STUDIES := ra-refractory cd-upadacitinib-ius ibd-biologics sle-belimumab cd-msc
DEMO_RAW := $(foreach s,$(DEMO_STUDIES),data/$(s)/raw/cohort.csv)
NOTEBOOKS := 01-prepare-cohort 02-describe-cohort 03-correlate-predictors 04-fit-regression \
             05-compare-models 06-validate-model 07-follow-visits 08-treatment-benefit \
             09-answer-study-questions
PKG_SRC := $(shell find src/analysis -name '*.py' 2>/dev/null)
# per-notebook prerequisites: NOTEBOOK_SRC_<notebook> and REPORT_SRC (generated, see above)
DEPS_MK := .make/notebook-deps.mk
SYNTH_SRC := $(wildcard src/analysis/synthetic/*.py) $(wildcard src/analysis/indices/*.py)

# one native thread per process: joblib spreads folds and resamples over the cores
export OMP_NUM_THREADS ?= 1
export OPENBLAS_NUM_THREADS ?= 1
export MKL_NUM_THREADS ?= 1

# Resampling workers inside notebooks 05 and 06 (their n_jobs parameter). When make runs
# notebooks side by side (-j > 1, the default), two kernels already keep the cores busy and
# a worker pool per kernel only adds start-up and oversubscription: one process each
# (measured on 2 cores: make all 328 s with pools, 295-301 s without). `make -j1` lets each
# notebook use every core; `RESAMPLING_JOBS=...` on the command line wins.
# (expanded in the recipe: only there does MAKEFLAGS hold the command line's -j)
RESAMPLING_JOBS ?= $(if $(filter -j1,$(MAKEFLAGS)),-1,1)

STUDY ?= ibd-biologics
FORMAT ?= html
SMOKE ?=
SEED ?=
TEST_ARGS ?=
RUN_FLAGS := $(if $(SMOKE),--smoke) $(if $(SEED),--seed $(SEED))

# raw inputs of a study: the generated demo cohort, or whatever the user put in raw/
raw_inputs = $(if $(filter $(1),$(DEMO_STUDIES)),data/$(1)/raw/cohort.csv,$(wildcard data/$(1)/raw/*))

.PHONY: help all data study check report test test-fast lint kernel env benchmarks clean distclean app screenshot

help: ## list the targets
	@echo "Usage: make <target> [STUDY=name] [SMOKE=1] [FORMAT=html|docx|pdf]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-10s %s\n", $$1, $$2}'
	@echo "Studies: $(STUDIES)"

# the order make starts the studies in: the demo studies with the most work first (longest
# processing time first, so the last study to finish is a short one and its report does not
# leave a core idle at the end), then any other study
SCHEDULE := $(filter ra-refractory,$(STUDIES)) $(filter cd-upadacitinib-ius,$(STUDIES)) \
            $(filter ibd-biologics,$(STUDIES)) $(filter sle-belimumab,$(STUDIES)) \
            $(filter cd-msc,$(STUDIES)) $(filter-out $(DEMO_STUDIES),$(STUDIES))
all: data $(foreach s,$(SCHEDULE),reports/$(s)/report.html) ## set up, build demo data, run every study, render reports

data: $(DEMO_RAW) ## write the deterministic demo cohorts

study: reports/$(STUDY)/report.html ## run every stage for one study (STUDY=name)

check: $(ENV_STAMP) $(call raw_inputs,$(STUDY)) ## validate one study's raw data against its codebook
	$(PY) -m analysis check --study $(STUDY)

report: reports/$(STUDY)/report.$(FORMAT) ## render one study's report (FORMAT=html|docx|pdf; pdf needs Quarto)

test: $(KERNEL_STAMP) ## run the whole test suite (unit tests, doctests, notebooks, end to end)
	$(PY) -m pytest -n 2 --dist loadgroup $(TEST_ARGS)

test-fast: $(ENV_STAMP) ## unit tests and doctests only: no notebook, no end-to-end run
	$(PY) -m pytest -n 2 --dist loadgroup -m "not notebook" --deselect tests/test_pipeline.py $(TEST_ARGS)

benchmarks: all ## external validation against the truth, and timing of 05 + 06 (full settings)
	$(PY) benchmarks/oracle.py
	$(PY) benchmarks/timing.py

app: $(KERNEL_STAMP) ## serve the prediction tool of STUDY's saved model (HOST=127.0.0.1 PORT=8000; ALLOW_UNVALIDATED=1 for a gated model)
	$(PY) -m analysis app --study $(STUDY) --host $(or $(HOST),127.0.0.1) --port $(or $(PORT),8000)

screenshot: $(KERNEL_STAMP) ## refresh docs/prediction-tool.png from STUDY's saved model (headless Debian chromium; ALLOW_UNVALIDATED=1 for a gated model)
	$(PY) -m analysis.app.screenshot --study $(STUDY) --out docs/prediction-tool.png $(if $(filter 1,$(ALLOW_UNVALIDATED)),--allow-unvalidated)

lint: $(ENV_STAMP) ## ruff, and the layer contract of the package (import-linter)
	$(VENV)/bin/ruff check src tests benchmarks
	$(VENV)/bin/lint-imports

env: $(ENV_STAMP) ## create .venv and install the package with its dev extras
kernel: $(KERNEL_STAMP) ## register the Jupyter kernel used by every Papermill run

$(ENV_STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@echo "installing the analysis package and its dependencies into $(VENV) ..."
	$(PY) -m pip install --disable-pip-version-check -q -e '.[dev]' 2>&1 | { grep -v 'is ignored: it is neither' || true; }
	@touch $@

$(KERNEL_STAMP): $(ENV_STAMP)
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))" >/dev/null
	@touch $@

$(DEMO_RAW): data/%/raw/cohort.csv: $(SYNTH_SRC) | $(ENV_STAMP)
	$(PY) -m analysis data --study $*

# The package files each notebook imports (transitively), regenerated when any changes.
-include $(DEPS_MK)
$(DEPS_MK): $(wildcard notebooks/*.ipynb) $(PKG_SRC)
	@mkdir -p $(@D)
	@PYTHONPATH=src $(PYTHON) -m analysis.pipeline.deps $(wildcard notebooks/*.ipynb) \
	  --module REPORT_SRC=analysis.pipeline.report > $@.tmp && mv $@.tmp $@

.SECONDEXPANSION:
# notebook_rule(NAME, PREREQUISITES): execute notebooks/NAME.ipynb for a study
define notebook_rule
reports/%/notebooks/$(1).ipynb: notebooks/$(1).ipynb $(2) $$(NOTEBOOK_SRC_$(1)) | $(KERNEL_STAMP)
	$$(PY) -m analysis run $$< $$@ --study $$* $$(RUN_FLAGS) $$(NOTEBOOK_ARGS_$(1))
endef
NOTEBOOK_ARGS_05-compare-models = -p n_jobs=$(RESAMPLING_JOBS)
NOTEBOOK_ARGS_06-validate-model = -p n_jobs=$(RESAMPLING_JOBS)
PREPARED := reports/%/notebooks/01-prepare-cohort.ipynb
$(eval $(call notebook_rule,01-prepare-cohort,data/%/study.yaml $$$$(call raw_inputs,$$$$*)))
$(eval $(call notebook_rule,02-describe-cohort,$(PREPARED)))
$(eval $(call notebook_rule,03-correlate-predictors,$(PREPARED)))
$(eval $(call notebook_rule,04-fit-regression,$(PREPARED)))
$(eval $(call notebook_rule,05-compare-models,$(PREPARED)))
$(eval $(call notebook_rule,06-validate-model,reports/%/notebooks/05-compare-models.ipynb))
$(eval $(call notebook_rule,07-follow-visits,$(PREPARED)))
$(eval $(call notebook_rule,08-treatment-benefit,$(PREPARED)))
$(eval $(call notebook_rule,09-answer-study-questions,$(PREPARED)))

# the slow model notebooks first: with -j, make starts prerequisites in the order listed, so
# the long 05 -> 06 chain of each study starts early and the short notebooks fill the gaps
# (the report's section order follows the notebook numbers, not this list)
SLOW_NOTEBOOKS := 05-compare-models 06-validate-model
# the report embeds the executed notebooks in the Quarto manuscript (reports/_quarto.yml,
# reports/templates/*.qmd); report.docx / report.pdf: `make report FORMAT=docx|pdf`
REPORT_PREREQS = $(foreach nb,$(SLOW_NOTEBOOKS) $(filter-out $(SLOW_NOTEBOOKS),$(NOTEBOOKS)),reports/%/notebooks/$(nb).ipynb) \
                 $(REPORT_SRC) $(wildcard reports/_quarto.yml reports/templates/*.qmd)
# the calculator's picture for the report, when chromium is installed and the model passed the gate
SCREENSHOT = $(PY) -m analysis.app.screenshot --study $* --out reports/$*/figures/prediction-tool.png --if-possible
reports/%/report.html: $(REPORT_PREREQS)
	$(SCREENSHOT)
	$(PY) -m analysis report --study $*
reports/%/report.docx: $(REPORT_PREREQS)
	$(SCREENSHOT)
	$(PY) -m analysis report --study $* --format docx
reports/%/report.pdf: $(REPORT_PREREQS)
	$(SCREENSHOT)
	$(PY) -m analysis report --study $* --format pdf

clean: ## remove generated data and reports (keeps .venv)
	rm -rf $(foreach s,$(STUDIES),reports/$(s) data/$(s)/processed) $(foreach s,$(DEMO_STUDIES),data/$(s)/raw)

distclean: clean ## also remove .venv
	rm -rf $(VENV)
