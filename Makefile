# dgx_station.inference: every command sets itself up on a fresh Debian/Ubuntu machine (as root).
#   make test   every test: lint, sanity, unit, integration, Molecule (what CI runs)
#   make demo   site.yml (provision -> deploy -> validate) on two simulated Stations
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

export PATH := $(CURDIR)/.venv/bin:$(PATH)
export ANSIBLE_COLLECTIONS_PATH := $(CURDIR)/.build/collections
export ANSIBLE_ROLES_PATH := $(CURDIR)/roles

.PHONY: help setup venv docker images test demo demo-clean lint sanity unit integration molecule build benchmarks clean

help:
	@echo "make test        run every test (sets up venv, collections, Docker and images first)"
	@echo "make demo        run site.yml on two simulated Stations and print their results"
	@echo "make demo-clean  remove the demo Stations"
	@echo "stages: make lint | sanity | unit | integration | molecule | build | benchmarks"

venv:
	@hack/setup.sh venv

docker:
	@hack/setup.sh docker

images:
	@hack/setup.sh images

setup:
	@hack/setup.sh all

test: setup
	@hack/run_tests.sh lint sanity build unit integration molecule

lint sanity build unit integration molecule: setup
	@hack/run_tests.sh $@

benchmarks: setup
	@hack/run_benchmarks.sh

demo: setup
	@hack/demo.sh

demo-clean:
	@hack/demo.sh --clean

clean:
	rm -rf .build/sanity .build/images tests/output reports
