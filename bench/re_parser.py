#!/usr/bin/env python3
"""Baseline peer for bench/replay.sh: a plain Python `re` parser for trace_pipe text.

For each line it matches the ftrace header
    comm-pid [(tgid)] [cpu] [flags] ts: event: body
(syscall events print "ts: sys_x(args)" and "ts: sys_x -> 0x3", so the colon after the
event name is optional)
with one compiled regex, peels an optional leading "(probe location)" off the body,
splits the rest into name=value pairs, and prints one JSON object per line with
json.dumps. Lines that do not match the header (continuation lines of strings with
embedded newlines, "CPU:N [LOST ...]" markers) are emitted as {"raw": line}.

This is meant to be a fair, simple peer: regexes are compiled once, output is written
through a buffered stream, and there is no per-line work beyond what is described
above. It knows nothing about events/*/format, so it cannot tell which `"` ends a
string (it takes the next `"` that is followed by a space or end of line).

Usage: re_parser.py FILE [> out]
"""

import json
import re
import sys

# Same shape as the pattern in kernel-notes.md §3 (comm is greedy, so the last -pid wins).
HEADER = re.compile(
    r"^\s*(?P<comm>.+)-(?P<pid>\d+)\s+"
    r"(?:\(\s*(?P<tgid>\d+|-+)\)\s+)?"
    r"\[(?P<cpu>\d+)\]\s+"
    r"(?:(?P<flags>[.dDbX][.nNpBLbl][.zZhHs][.0-9a-f][.0-9a-f]?)\s+)?"
    r"(?P<ts>\d+(?:\.\d+)?): "
    r"(?P<event>[^:\s(]+)(?::\s?|(?=[\s(]))(?P<body>.*)$"
)
LOCATION = re.compile(r"\s*\((?P<loc>[^)]*)\)\s*")
PAIR = re.compile(r"""(?P<name>[^\s=]+)=(?P<value>"[^"]*"(?=\s|$)|\{[^}]*\}|'.'|\S+)""")


def parse(path: str) -> int:
    out = sys.stdout
    dumps = json.dumps
    header = HEADER.match
    location = LOCATION.match
    pairs = PAIR.findall
    n = 0
    with open(path, encoding="utf-8", errors="surrogateescape", newline="\n") as f:
        for line in f:
            line = line.rstrip("\n")
            m = header(line)
            if m is None:
                out.write(dumps({"raw": line}))
                out.write("\n")
                continue
            rec = m.groupdict()
            body = rec.pop("body")
            loc = location(body)
            if loc is not None:
                rec["loc"] = loc.group("loc")
                body = body[loc.end():]
            rec["pid"] = int(rec["pid"])
            rec["cpu"] = int(rec["cpu"])
            rec["fields"] = dict(pairs(body))
            out.write(dumps(rec))
            out.write("\n")
            n += 1
    return n


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__.strip().splitlines()[-1], file=sys.stderr)
        return 2
    n = parse(sys.argv[1])
    print(f"re_parser: {n} records", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
