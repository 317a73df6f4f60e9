#!/usr/bin/python3
"""The layer rule (docs/architecture.md): a room includes only itself and the rooms below it.
Prints each include that runs up or sideways and exits 1; the build's per-room libraries
catch calls, this catches headers too. Run by ctest (test `layers`)."""
import os
import re
import sys

# From the bottom; rooms on one line are side by side and do not include each other.
LAYERS = [["core"], ["config"], ["policy", "message"], ["milter", "plugin", "relay"], ["queue"], ["pipeline"],
          ["loops"], ["http", "smtpd"], ["runtime"], ["cli"]]
LEVEL = {room: i for i, rooms in enumerate(LAYERS) for room in rooms}
# Pairs (room, other) let through on purpose, each with its reason; none today.
ALLOWED = {}


def main(src):
    bad = []
    for room in LEVEL:
        for top, _, files in os.walk(os.path.join(src, room)):
            for name in files:
                path = os.path.join(top, name)
                with open(path, errors="replace") as f:
                    for number, line in enumerate(f, 1):
                        m = re.match(r'\s*#\s*include\s+"([a-z_]+)/', line)
                        if not m or m.group(1) not in LEVEL or m.group(1) == room:
                            continue
                        other = m.group(1)
                        if LEVEL[other] < LEVEL[room] or (room, other) in ALLOWED:
                            continue
                        bad.append(f"{path}:{number}: {room} includes {other}, which is not below it")
    for b in bad:
        print(b)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "..", "src")))
