#!/usr/bin/env python3
"""Prints each mutation-tested module's score and its per-class table from PIT's mutations.xml."""
import collections
import glob
import os
import xml.etree.ElementTree as ET

KILLED = {"KILLED", "TIMED_OUT", "MEMORY_ERROR"}

for report in sorted(glob.glob("*/target/pit-reports/mutations.xml")):
    module = report.split(os.sep)[0]
    per_class = collections.defaultdict(lambda: [0, 0])
    for m in ET.parse(report).getroot():
        cls = m.find("mutatedClass").text.split(".")[-1].split("$")[0]
        per_class[cls][1] += 1
        if m.get("status") in KILLED:
            per_class[cls][0] += 1
    killed = sum(v[0] for v in per_class.values())
    total = sum(v[1] for v in per_class.values())
    print(f"\n{module}: mutation score {100 * killed / max(1, total):.0f}% ({killed}/{total})")
    for cls, (k, t) in sorted(per_class.items(), key=lambda x: -x[1][1]):
        print(f"  {cls:28s} {k:4d}/{t:4d}  {100 * k / t:5.1f}%")
