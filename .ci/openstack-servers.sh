#!/usr/bin/env bash
# Installs a real OpenStack Keystone and Swift for the `openstack` tests, in their own virtual
# environment (their pins must not meet govaudit's), reused when already complete.
#
#   .ci/openstack-servers.sh            # install if missing; print the venv path
#   GOVAUDIT_OPENSTACK_VENV=/x .ci/openstack-servers.sh
#
# The test suite (tests/inventories/libcloud/conftest.py) finds the venv at the same path,
# starts the servers on 127.0.0.1 for the session and stops them; it skips the tests only
# when this venv is absent.  Needs: python3 with venv, and apt-get for memcached (Swift's
# token and account cache) when it is missing.
set -euo pipefail

VENV="${GOVAUDIT_OPENSTACK_VENV:-$HOME/.cache/govaudit-openstack}"
# Pinned: the seed script and the tests rely on these releases' behaviour.
KEYSTONE="keystone==30.0.0"
SWIFT="swift==2.38.3"
# pyuwsgi is uWSGI published as a wheel: the same server, with no C compiler needed.
UWSGI="pyuwsgi==2.0.30.post1"
STAMP="$VENV/.govaudit-complete"
WANT="$KEYSTONE $SWIFT $UWSGI"
start=$(date +%s)

if ! command -v memcached >/dev/null 2>&1; then
  echo "openstack-servers: installing memcached" >&2
  export DEBIAN_FRONTEND=noninteractive
  # Installing memcached starts its service on some machines; the tests run their own.
  apt-get update -qq && apt-get install -y -qq --no-install-recommends memcached >/dev/null
fi

if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ]; then
  echo "$VENV"
  exit 0
fi

# The stamp is written last: an interrupted install is never taken for a complete one.
rm -rf "$VENV"
mkdir -p "$(dirname "$VENV")"
python3 -m venv "$VENV"
# shellcheck disable=SC2086 # WANT is a list of requirements
"$VENV/bin/python" -m pip install -q --disable-pip-version-check $WANT
echo "$WANT" >"$STAMP"
echo "openstack-servers: installed in $(($(date +%s) - start)) s" >&2
echo "$VENV"
