# The user's door. `make` sets up what is missing and builds build/mod_tls.so;
# `make run` serves https://localhost:8443/; `make test` runs every test. See README.md.
BUILD_DIR ?= build
SANITIZE  ?= 0
# Debian's cargo (cargo, or cargo-web on Debian 12; rustc is pinned in bridge/.cargo/config.toml).
# Resolved when a recipe runs, i.e. after `setup` has installed it.
CARGO      = $(shell test -x /usr/bin/cargo && echo /usr/bin/cargo || command -v cargo)
PYTHON    := /usr/bin/python3
JOBS      ?= $(shell nproc)
# Integration test selection: TESTS=tests/integration/test_x.py runs one file; PYTEST_ARGS adds options.
TESTS     ?= tests/integration

# `make install` target layout (Debian's): PREFIX=/usr puts the module in /usr/lib/apache2/modules;
# DESTDIR=... stages the install elsewhere. The a2enmod files always go to /etc/apache2.
PREFIX    ?= /usr

CMAKE_FLAGS = -DMOD_TLS_SANITIZE=$(if $(filter 1,$(SANITIZE)),ON,OFF) -DCMAKE_INSTALL_PREFIX=$(PREFIX)

.PHONY: all setup build test unit-test rust-test integration-test tools-test asan-test run stop bench bench-flood \
        install deb clean

all: build

# Installs missing Debian packages and makes build/crates, the bridge's crate sources (Debian 13's:
# on Debian 12 fetched and unpacked, see README "Which Debian gets what"); a no-op (a fraction of a
# second) when all are present. Every target that runs cargo depends on it.
setup:
	@scripts/setup.sh

build: setup
	@cmake -S . -B $(BUILD_DIR) $(CMAKE_FLAGS) >/dev/null
	@cmake --build $(BUILD_DIR) -j $(JOBS) -- --no-print-directory

unit-test: build
	cd $(BUILD_DIR) && ctest --output-on-failure

rust-test: setup
	cd bridge && $(CARGO) test --offline --target-dir $(abspath $(BUILD_DIR))/cargo-test

integration-test: build
	MOD_TLS_SO=$(abspath $(BUILD_DIR))/mod_tls.so $(PYTHON) -m pytest -q $(TESTS) $(PYTEST_ARGS)

# tests/tools: tls-migrate (pure input -> output checks), make install and make setup; no Apache.
tools-test:
	$(PYTHON) -m pytest -q tests/tools $(TOOLS_PYTEST_ARGS)

test: unit-test rust-test tools-test integration-test

# The integration suite against the module built with AddressSanitizer + UBSan.
asan-test:
	$(MAKE) BUILD_DIR=build-asan SANITIZE=1 build
	build-asan/unit_tests --gtest_brief=1
	MOD_TLS_SO=$(abspath build-asan)/mod_tls.so MOD_TLS_SANITIZER=1 \
	  $(PYTHON) -m pytest -q $(TESTS) $(PYTEST_ARGS)

run: build
	@scripts/run.sh start $(abspath $(BUILD_DIR))

stop:
	@scripts/run.sh stop $(abspath $(BUILD_DIR))

# mod_tls vs mod_ssl vs plain HTTP (bench/run.py, README "Benchmark"); as root. The full run
# (about 10 minutes) writes bench/results/latest.{json,md,png}; QUICK=1 (under 2 minutes) writes
# build/bench-quick/. BENCH_ARGS=... passes more options (e.g. --out DIR).
bench: build
	$(PYTHON) bench/run.py --module $(abspath $(BUILD_DIR))/mod_tls.so \
	  $(if $(filter 1,$(QUICK)),--quick) $(BENCH_ARGS)

# Legitimate clients while N = 300, 1000, 2000 half-open TLS handshakes are held open
# (bench/flood.py): mod_tls and mod_ssl with Apache's default event MPM settings and
# RequestReadTimeout handshake=10; as root. The full run (about 3 minutes) writes
# bench/results/flood.{json,md}; QUICK=1 (N = 300 only) writes build/bench-quick/.
# BENCH_ARGS=... passes more options (e.g. --out DIR, --levels 300,1000).
bench-flood: build
	$(PYTHON) bench/flood.py --module $(abspath $(BUILD_DIR))/mod_tls.so \
	  $(if $(filter 1,$(QUICK)),--quick) $(BENCH_ARGS)

# Installs the module, tls.load/tls.conf (mods-available), the default-tls sample site
# (sites-available), tls-migrate ($(PREFIX)/bin) and docs/ into Debian's layout; DESTDIR-aware.
install: build
	DESTDIR=$(DESTDIR) cmake --install $(BUILD_DIR)

# The Debian package libapache2-mod-tls, built by dpkg-buildpackage (debhelper + dh_apache2) from a
# copy of the tree under $(BUILD_DIR)/deb (so the checkout stays clean); the .deb lands in
# $(BUILD_DIR)/ and lintian checks it (errors fail the build).
deb: setup
	@scripts/build-deb.sh $(abspath $(BUILD_DIR))

clean:
	rm -rf build build-asan build-fuzz

# libFuzzer targets (fuzz/README.md): built with clang into build-fuzz/, each run for
# FUZZ_SECONDS (default 120) on a copy of its seed corpus (fuzz/corpus/<target>); crashes land in
# build-fuzz/artifacts/. Not part of `make test` (`make fuzz-smoke` runs each seed corpus once).
FUZZ_SECONDS ?= 120
FUZZ_TARGETS ?= fuzz_directives fuzz_bridge_api fuzz_tls_stream
FUZZ_DIR     := build-fuzz

.PHONY: fuzz fuzz-build fuzz-smoke
fuzz-build: setup
	@CC=clang CXX=clang++ cmake -S fuzz -B $(FUZZ_DIR) -DCMAKE_BUILD_TYPE=Debug >/dev/null
	@cmake --build $(FUZZ_DIR) -j $(JOBS) -- --no-print-directory

fuzz: fuzz-build
	@mkdir -p $(FUZZ_DIR)/artifacts
	@set -e; for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(FUZZ_DIR)/corpus/$$t; \
	  echo "== $$t for $(FUZZ_SECONDS)s"; \
	  $(FUZZ_DIR)/$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=$(abspath $(FUZZ_DIR))/artifacts/$$t- \
	    $(FUZZ_DIR)/corpus/$$t fuzz/corpus/$$t; \
	done

# Each target once over its seed corpus and the saved regressions (seconds).
fuzz-smoke: fuzz-build
	@set -e; for t in $(FUZZ_TARGETS); do \
	  $(FUZZ_DIR)/$$t -runs=0 fuzz/corpus/$$t $$(test -d fuzz/regressions/$$t && echo fuzz/regressions/$$t); \
	done

# apache2 -X with the module under valgrind memcheck, a few handshakes and requests; fails on a
# "definitely lost" block from mod_tls.so (scripts/memcheck.py). A few minutes.
.PHONY: memcheck
memcheck: build
	$(PYTHON) scripts/memcheck.py $(abspath $(BUILD_DIR))/mod_tls.so
