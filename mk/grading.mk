# Exercises and grading; included from the Makefile (which defines PY, install, SUBMISSIONS, JOBS, DEVICE, QUICK).
#   make student                      student notebooks (answers stubbed) from solutions/ into notebooks/
#   make solutions                    run every solution notebook with papermill into build/solutions/ (QUICK=True: fast)
#   make grade SUBMISSIONS=dir        grade a folder of notebooks: $(GRADES) + feedback/ beside it
#        [JOBS=2] [DEVICE=cuda] [HIDDEN=dir] [GRADE_QUICK=False] [GRADE_TIMEOUT=300]
#        [SCHEDULER=tcp://host:8786] (children on a Dask cluster) [RESUME=1] (keep finished rows)
# See docs/instructors.md.

GRADES ?= build/grades/grades.csv
HIDDEN ?=
GRADE_QUICK ?= True
GRADE_TIMEOUT ?= 300
SCHEDULER ?=
RESUME ?=

.PHONY: student solutions grade

student: install
	$(PY) -m course_utils.grading.release solutions --out notebooks

solutions: install
	@set -e; for notebook in solutions/*.ipynb; do \
		$(PY) -m course_utils.runner $$notebook --out build/solutions -p QUICK=$(QUICK) \
			$(if $(DEVICE),-p DEVICE=$(DEVICE)); \
	done

grade: install
	$(PY) -m course_utils.grading $(SUBMISSIONS) --out $(GRADES) -j $(JOBS) --timeout $(GRADE_TIMEOUT) \
		$(if $(DEVICE),--device $(DEVICE)) $(if $(HIDDEN),--hidden $(HIDDEN)) $(if $(filter False,$(GRADE_QUICK)),--full) \
		$(if $(SCHEDULER),--scheduler $(SCHEDULER)) $(if $(RESUME),--resume)
