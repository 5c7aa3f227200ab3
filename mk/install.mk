# `make install` (as root): statusd into /opt/statusd/venv, its systemd units and an example
# configuration. Included from the Makefile; see docs/production.md.
#
# Every location is a variable, so a packager or a test can point them elsewhere:
#   make install STATUSD_PREFIX=/tmp/x/opt SYSCONFDIR=/tmp/x/etc UNITDIR=/tmp/x/units
# The units themselves name /opt/statusd and /etc/statusd; change those only together.

# The interpreter the service runs on. It must be a system one: the units run statusd as a
# transient user with ProtectHome=yes, which can run nothing below /root or /home (where
# pyenv and friends put theirs).
INSTALL_PYTHON ?= /usr/bin/python3
STATUSD_PREFIX ?= /opt/statusd
SYSCONFDIR ?= /etc
UNITDIR ?= /etc/systemd/system
# Extra `pip install` arguments (e.g. --no-index --find-links DIR on an offline host).
PIP_INSTALL_ARGS ?=
# Set to 0 to install without root (only useful with the locations above changed).
INSTALL_REQUIRE_ROOT ?= 1
SYSTEMCTL ?= systemctl

STATUSD_VENV := $(STATUSD_PREFIX)/venv
STATUSD_ETC := $(SYSCONFDIR)/statusd
STATUSD_UNITS := systemd/statusd.service systemd/statusd-sim.service

.PHONY: install

install:
	@if [ "$(INSTALL_REQUIRE_ROOT)" = 1 ] && [ "$$(id -u)" != 0 ]; then \
	  echo "make install: run as root (it writes $(STATUSD_PREFIX), $(STATUSD_ETC) and $(UNITDIR))" >&2; \
	  exit 1; \
	fi
	@case "$$(readlink -e $(INSTALL_PYTHON))" in /root/*|/home/*|/run/user/*|/tmp/*|"") \
	  echo "make install: INSTALL_PYTHON=$(INSTALL_PYTHON) is missing or private to a user; statusd's sandbox cannot run it (use a system python3 >= 3.11)" >&2; \
	  exit 1;; \
	esac
	test -x $(STATUSD_VENV)/bin/python || $(INSTALL_PYTHON) -m venv $(STATUSD_VENV)
	$(STATUSD_VENV)/bin/python -m pip install --quiet --no-cache-dir --upgrade $(PIP_INSTALL_ARGS) .
	install -d -m 0755 $(STATUSD_PREFIX)/docs
	install -m 0644 docs/production.md $(STATUSD_PREFIX)/docs/production.md
	install -d -m 0755 $(UNITDIR)
	install -m 0644 $(STATUSD_UNITS) $(UNITDIR)/
	install -d -m 0755 $(STATUSD_ETC)
# The configuration and the environment file are the operator's: never overwritten. The
# TOML file is read by statusd's transient user (0644); the environment file only by
# systemd itself (0600).
	test -e $(STATUSD_ETC)/statusd.toml || install -m 0644 systemd/statusd.toml $(STATUSD_ETC)/statusd.toml
	test -e $(STATUSD_ETC)/statusd.env || install -m 0600 systemd/statusd.env $(STATUSD_ETC)/statusd.env
	$(STATUSD_VENV)/bin/statusd --check-config --config $(STATUSD_ETC)/statusd.toml
# Reload units only where systemd is the running init (not in containers or chroots).
	if [ -d /run/systemd/system ]; then $(SYSTEMCTL) daemon-reload; fi
	@echo "installed; start with: systemctl enable --now statusd-sim.service statusd.service"
