#!/usr/bin/env python3
"""Where a JFR recording's CPU samples went, per thread group and per top frame.

    CANOPY_JAVA_OPTS="-Xmx4g -XX:StartFlightRecording=filename=/tmp/infer.jfr,settings=profile" \
        ./canopy bench infer --models small-cnn
    jfr print --json --events jdk.ExecutionSample /tmp/infer.jfr > /tmp/infer.json
    python3 tools/jfr_threads.py /tmp/infer.json canopy-decode

Prints the sample count of each thread group (thread names with numbers folded), then, for the
threads whose name starts with the second argument, the share of samples by top frame and by
package found anywhere in the stack. Native code outside the JVM (libtorch, ONNX Runtime's own
threads) is not sampled by JFR: read the model's share from the pipeline's "model busy" figure.
"""
import collections
import json
import re
import sys

events = json.load(open(sys.argv[1]))["recording"]["events"]
prefix = sys.argv[2] if len(sys.argv) > 2 else "canopy-decode"
groups = collections.Counter()
top = collections.Counter()
packages = collections.Counter()
selected = 0
for e in events:
    v = e["values"]
    name = v["sampledThread"].get("javaName") or v["sampledThread"].get("osName") or "?"
    groups[re.sub(r"\d+", "N", name)] += 1
    if not name.startswith(prefix):
        continue
    selected += 1
    frames = (v.get("stackTrace") or {}).get("frames") or []
    if frames:
        m = frames[0]["method"]
        top[m["type"]["name"].replace("/", ".") + "." + m["name"]] += 1
    seen = set()
    for f in frames:
        pkg = ".".join(f["method"]["type"]["name"].split("/")[:-1])
        if pkg not in seen:
            seen.add(pkg)
            packages[pkg] += 1
print("samples by thread group:")
for g, c in groups.most_common(12):
    print(f"  {c:6d}  {g}")
print(f"\n{selected} samples on threads starting with '{prefix}'; top frames:")
for f, c in top.most_common(12):
    print(f"  {100 * c / max(1, selected):5.1f}%  {f}")
print("\npackages anywhere in the stack:")
for p, c in packages.most_common(12):
    print(f"  {100 * c / max(1, selected):5.1f}%  {p}")
