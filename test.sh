#!/usr/bin/env bash
# Every test, once: the unit and integration suites (real S3Proxy, PostgreSQL on 127.0.0.1:5432 and the
# embedded one, Spark local and a real standalone cluster, real HTTP servers and webhook receivers, child
# processes killed with SIGKILL), then mutation
# testing (PIT) of the pure logic, which fails below each module's threshold. CI runs exactly this.
set -euo pipefail
cd "$(dirname "$0")"
mvn -B verify -Pmutation
python3 tools/mutation_summary.py
