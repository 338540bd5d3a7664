# Thin targets: each is one command. PROFILE=laptop make course for the bigger run.
PYTHON ?= python3
VENV ?= .venv
PROFILE ?= ci
# CPU TensorFlow, one OpenCV with contrib, the notebook runner, tests and deployment; EXTRAS=gpu,opencv,test,deploy for a CUDA GPU.
EXTRAS ?= cpu,opencv,test,deploy
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: course test venv readme bench clean colab-check

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[$(EXTRAS)]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 > /dev/null
	touch $(STAMP)

venv: $(STAMP)

colab-check: $(STAMP)
	$(BIN)/python ci/check_colab_install.py

course: $(STAMP)
	$(BIN)/python ci/run_notebooks.py --profile $(PROFILE) && $(BIN)/python ci/make_readme_table.py

test: $(STAMP)
	$(BIN)/python -m pytest

readme: $(STAMP)
	$(BIN)/python ci/make_readme_table.py

bench: $(STAMP)
	$(BIN)/python ci/bench_generate.py && $(BIN)/python ci/bench_flow.py && $(BIN)/python ci/bench_pipeline.py

# The course site from the executed notebooks of the last `make course` (artifacts/site/html/index.html).
.PHONY: site student
site: $(STAMP)
	$(BIN)/python ci/build_site.py

# Student versions of the notebooks (nbgrader format) in artifacts/student/; grade with `python -m course_utils grade`.
student: $(STAMP)
	$(BIN)/python ci/make_student.py

clean:
	rm -rf artifacts data
