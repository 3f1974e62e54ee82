"""Prints every pinned requirement of pyproject.toml (build, runtime and the dev extra), one
per line, for scripts/install-deps."""
import sys
import tomllib

with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)
reqs = list(project["build-system"]["requires"])
reqs += project["project"].get("dependencies", [])
for extra in project["project"].get("optional-dependencies", {}).values():
    reqs += extra
seen = []
for r in reqs:
    if r not in seen:
        seen.append(r)
print("\n".join(seen))
