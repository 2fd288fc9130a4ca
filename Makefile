# hw1: the two commands a new user runs are `make run` and `make test`.
#   make run                 execute every notebook in place under the full profile
#   make run PROFILE=smoke   the same in seconds, on the bundled digits, into .smoke/
#   make test                ruff, unit tests, and the notebooks under nbval (smoke profile)
#   make figures             re-render every figure from the run store, without training
#   make bench               the benchmark suite, the training-step benchmark and smoke notebook
#                            times (not in make test)
#   make bench-notebooks-full  every notebook's full-profile time (tens of minutes)
#   make kernel              register this venv as the Jupyter kernel "Python (hw1)"
# THREADS fixes torch's thread count for run, figures and the timings (bit-identical results
# need the same machine, thread count and versions): make run THREADS=4
PROFILE ?= full
THREADS ?= 2
VENV := .venv
BIN := $(VENV)/bin
NOTEBOOKS := $(sort $(wildcard notebooks/*.ipynb))
SCRATCH := .smoke

.PHONY: venv run test figures bench bench-notebooks-full kernel clean-smoke

run figures bench bench-notebooks-full: export OMP_NUM_THREADS = $(THREADS)
run figures bench bench-notebooks-full: export MKL_NUM_THREADS = $(THREADS)

venv: $(VENV)/.installed

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(BIN)/python || python3 -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

run: export TQDM_DISABLE = 1
run: venv
ifeq ($(PROFILE),smoke)
	mkdir -p $(SCRATCH)/notebooks
	HW1_PROFILE=smoke $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=-1 --output-dir $(SCRATCH)/notebooks $(NOTEBOOKS)
else ifeq ($(PROFILE),full)
	HW1_PROFILE=full $(BIN)/jupyter nbconvert --to notebook --execute \
	  --ExecutePreprocessor.timeout=-1 --inplace $(NOTEBOOKS)
else
	@echo "PROFILE=$(PROFILE) is not a profile; use PROFILE=full (default) or PROFILE=smoke" >&2
	@exit 2
endif

test: export TQDM_DISABLE = 1
test: venv
	$(BIN)/ruff check src tests notebooks benchmarks
	$(BIN)/pytest tests/
	HW1_PROFILE=smoke HW1_RERUN=1 $(BIN)/pytest --nbval-lax notebooks/

figures: venv
	HW1_STORE_ONLY=1 $(BIN)/python -m hw1.figures

bench: venv
	$(BIN)/python benchmarks/run.py
	$(BIN)/python benchmarks/train_steps.py
	$(BIN)/python benchmarks/notebook_times.py smoke

bench-notebooks-full: venv
	$(BIN)/python benchmarks/notebook_times.py full

kernel: venv
	$(BIN)/python -m ipykernel install --user --name hw1 --display-name "Python (hw1)"

clean-smoke:
	rm -rf $(SCRATCH)
