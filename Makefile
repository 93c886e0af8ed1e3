# The two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-integration test-cluster city-smoke city fuzz lint bench bench-smoke bench-rebuild soak chromium wrk nginx kubectl promtool clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/clinicq run

# Browser tests drive Debian's Chromium; install it when it is missing (we run as root in CI).
chromium:
	@test -x /usr/bin/chromium || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || echo "could not install chromium: browser tests will be skipped"; }

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

# Each run's temporary folders (embedded servers' data among them) are its own and removed at
# its end. Under pytest's shared /tmp/pytest-of-$USER, any other pytest run starting on the
# machine sets that folder back to 0700, and an embedded PostgreSQL (run by root as the user
# `pgserver`) can no longer reach its own data: it panics mid-run.
PYTEST = tmp=$$(mktemp -d /tmp/clinicq-pytest-XXXXXX) && trap 'rm -rf "$$tmp"' EXIT && \
	$(BIN)/pytest --basetemp="$$tmp"

# The suite includes the benchmarks' smoke (tests/loadtest/test_bench_smoke.py), which needs wrk,
# renders the Kubernetes manifests with kubectl's kustomize (tests/city/test_kubernetes.py) and
# checks deploy/prometheus with promtool (tests/city/test_monitoring_kit.py).
test: $(STAMP) chromium wrk kubectl promtool lint
	$(PYTEST) -q

# The integration tests alone, e.g. against the machine's servers:
#   REDIS_URL=redis://127.0.0.1:6379/0 DATABASE_URL=postgresql://postgres@127.0.0.1:5432/test make test-integration
test-integration: $(STAMP)
	$(PYTEST) -q -m integration

# The engine's and the push server's integration tests once more on a 3-node Redis Cluster
# started on loopback, each node from deploy/valkey/cluster-node.conf (the browser tests once
# are enough).
test-cluster: export CLINICQ_REDIS_CLUSTER = 1
test-cluster: $(STAMP)
	$(PYTEST) -q -m "integration and not browser" tests/engine tests/displays tests/test_embedded.py

# The city in a box (~2 minutes, root): three app hosts, a store host and nginx on network
# namespaces; cuts an app host off from the stores, fails over PostgreSQL and kills an app host
# while load and screens run (tests/city, docs/DEPLOYMENT.md); its figures go to
# var/city-smoke.json. Needs Debian's nginx. With CLINICQ_CITY_VALKEY=1 in the environment,
# Redis is a three-master Valkey cluster over the app hosts and a master is failed over too
# (not yet the default: see docs/DEPLOYMENT.md, "A push process stuck after a Valkey failover").
city-smoke: export CLINICQ_CITY = 1
city-smoke: $(STAMP) nginx
	$(PYTEST) -q -s tests/city

# The same drill by hand, longer: CITY_SECONDS of load at CITY_RATE operations a second (the
# faults at the same fractions of it), with the Valkey cluster unless CITY_VALKEY=0; the report
# goes to var/city.json.
CITY_SECONDS ?= 300
CITY_RATE ?= 60
CITY_VALKEY ?= 1
city: $(STAMP) nginx
	CLINICQ_CITY=1 CLINICQ_CITY_VALKEY=$(CITY_VALKEY) CLINICQ_CITY_SECONDS=$(CITY_SECONDS) \
	  CLINICQ_CITY_RATE=$(CITY_RATE) CLINICQ_CITY_REPORT=var/city.json \
	  $(BIN)/pytest -q -s tests/city/test_city_in_a_box.py

nginx:
	@test -x /usr/sbin/nginx || { \
	  echo "installing Debian's nginx for the city drill"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx >/dev/null) \
	  || { echo "could not install nginx: apt-get install nginx"; exit 1; }; }

# The monitoring kit (deploy/prometheus) is checked offline by promtool: Debian's prometheus package.
promtool:
	@command -v promtool >/dev/null || { \
	  echo "installing Debian's prometheus for promtool"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends prometheus >/dev/null) \
	  || { echo "could not install promtool: apt-get install prometheus"; exit 1; }; }

# The long schema fuzz: schemathesis from /openapi.json, 250 examples per operation and token
# (over 10,000 cases, ~10 minutes); `make test` runs a short one. Counts in var/fuzz-report.json.
fuzz: $(STAMP)
	CLINICQ_FUZZ_EXAMPLES=250 CLINICQ_FUZZ_REPORT=var/fuzz-report.json $(BIN)/pytest -q tests/test_fuzz.py

# The durable path against a bare endpoint, both driven by wrk (Debian's, installed when missing).
# Options through BENCH_ARGS, e.g. `make bench BENCH_ARGS="--ports 20000-20099 --seconds 30"`.
bench: $(STAMP) wrk
	$(BIN)/python -m loadtest bench $(BENCH_ARGS)

# `bench`, `ws-bench` and `knee` end to end for a few seconds each (~40 s), on fresh embedded
# stores: each must exit 0 and write its report with its figures; no timing is asserted.
# `make test` runs the same tests as part of the suite.
bench-smoke: $(STAMP) wrk
	$(BIN)/pytest -q -m bench_smoke tests/loadtest/test_bench_smoke.py

wrk:
	@command -v wrk >/dev/null || { \
	  echo "installing Debian's wrk for the benchmarks"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null) \
	  || { echo "could not install wrk: apt-get install wrk"; exit 1; }; }

# kustomize renders deploy/k8s for the tests: kubectl 1.21 or later has it built in (the machine
# image's does). Debian 12's kubernetes-client is 1.20, whose kustomize is too old for the
# manifests, so nothing is installed here: without kubectl those tests skip, saying so.
kubectl:
	@kubectl kustomize --help >/dev/null 2>&1 || \
	  echo "no kubectl with kustomize: the Kubernetes manifests' tests will be skipped"

# Rebuild time after a Redis loss at 100,000 and 1,000,000 journal entries (~4 minutes).
bench-rebuild: $(STAMP)
	$(BIN)/python -m loadtest rebuild-bench --entries 100000,1000000

# Steady state over simulated days (midnights included) on embedded stores: eight clinics of 800
# walk-ins a day with their screens, for two hours of wall time (or a year, if that comes first);
# SOAK_HOURS=24 for a day's run. CI runs a short one in the suite (tests/loadtest/test_soak_days.py).
# Each simulated day is paced over SOAK_DAY_SECONDS of wall time (a quiet machine does one in
# ~40-50 s), so that the push processes' per-second work weighs the same on every day.
SOAK_HOURS ?= 2
SOAK_DAY_SECONDS ?= 75
soak: $(STAMP)
	$(BIN)/python -m loadtest soak-days --hours $(SOAK_HOURS) --days 365 --clinics 8 \
	  --visits 800 --bookings 120 --board-reads 200 --push 2 --screens 20 \
	  --day-seconds $(SOAK_DAY_SECONDS)

clean:
	rm -rf $(VENV) var
