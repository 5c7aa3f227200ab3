# Benchmarks of issue 7 (bench/README.md). Included from the Makefile.
#   make bench        every measurement at full size, then 60 s of fuzzing per parser and the
#                     10-minute soak run (about 35 minutes; results in bench/results/)
#   make bench-smoke  every measurement at tiny size (seconds): proves the harness works
# wrk drives the load and nginx is the cache in front of statusd, with its nchan module
# holding the event streams (libnginx-mod-nchan); all are Debian packages, installed here
# when missing (as root). `make test` needs them too: the smoke run is a test. The full crowd
# run's client is Go (bench/crowd_go, standard library only): golang-go is installed too, but
# the smoke run (`make test`) keeps the Python client and needs no Go.

.PHONY: bench bench-smoke bench-tools

bench-tools:
	@if ! command -v wrk >/dev/null || ! { command -v nginx >/dev/null || test -x /usr/sbin/nginx; } \
	    || ! test -f /usr/lib/nginx/modules/ngx_nchan_module.so; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q wrk nginx libnginx-mod-nchan; \
	fi
	@command -v go >/dev/null || { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q golang-go; }

bench: $(STAMP) bench-tools
	$(BIN)/python -m pip install -q -e '.[test,bench]'
	$(BIN)/python -m bench.run
	$(BIN)/python -m bench.fuzz_parsers --seconds 60
	$(BIN)/python -m bench.soak --minutes 10

bench-smoke: $(STAMP) bench-tools
	$(BIN)/python -m bench.run --smoke

# tests/bench/test_bench_smoke.py runs the smoke benchmarks, so the test run needs the tools.
test: bench-tools
