#!/usr/bin/env bash
# Every test, once: the unit and integration suites (real S3Proxy, PostgreSQL on 127.0.0.1:5432 and the
# embedded one, Spark local and a real standalone cluster, real HTTP servers and webhook receivers, child
# processes killed with SIGKILL, the dashboard in headless chromium), then mutation
# testing (PIT) of the pure logic, which fails below each module's threshold. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")"
# Debian packages the tests need, installed when missing
install_debian() {
  echo "installing $* for the tests"
  export DEBIAN_FRONTEND=noninteractive
  local SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo"
  $SUDO apt-get install -y -q "$@" >/dev/null 2>&1 || { $SUDO apt-get update -q >/dev/null && $SUDO apt-get install -y -q "$@" >/dev/null; }
}
# the dashboard's browser tests drive Debian's chromium through Debian's chromedriver (nothing is downloaded by Selenium)
command -v chromium >/dev/null && command -v chromedriver >/dev/null || install_debian chromium chromium-driver
# DCT-domain scaled JPEG decoding calls libjpeg-turbo's TurboJPEG library: here its tests must run, not skip
dpkg-query -W -f='${Status}' libturbojpeg0 2>/dev/null | grep -q 'ok installed' || install_debian libturbojpeg0
mvn -B verify -Pmutation -Dcanopy.test.requireTurboJpeg=true
python3 tools/mutation_summary.py

# the cluster CI stage: this build as a bundle, its pipeline tests (train, tune, infer, DuckDB checks) on a cluster made from it
touch canopy-cli/target/.canopy-built   # verify has just packaged it: no rebuild
CI_HOME="$(mktemp -d)"
trap 'rm -rf "$CI_HOME"' EXIT
digest="$(./canopy --home "$CI_HOME" bundle build | awk '/^bundle/{print $2}')"
./canopy --home "$CI_HOME" --no-progress ci run --bundle "$digest"
