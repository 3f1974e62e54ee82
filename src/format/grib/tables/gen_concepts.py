#!/usr/bin/env python3
"""Generates lsio's GRIB2 concept tables (parameter names, type of level, MTG2 switch) from
ecCodes' definition files.

    gen_concepts.py --definitions DIR --out concepts_generated.cc [--source-label TEXT]

DIR is an ecCodes definitions directory (the one holding grib2/, common/, mars/). Every
concept file the reader evaluates is read: grib2/{paramId,shortName,name,units}{.def,
.lte33.def,.chemsplit.def,.legacy.def}, cfVarName.def, cfName.def, typeOfLevelConcept.def,
MTG2SwitchConcept.def and MTG2SwitchViaTablesVersionConcept.def, in grib2/ and in every
grib2/localConcepts/<centre>/; plus the centre abbreviations (common/c-11.table) and the MARS
classes and types (mars/class.table, mars/type.table). Entries keep their file order (ecCodes' tie-breaking depends on
it). The output is one C++ source holding a string pool and flat uint32 tables that
src/format/grib/concepts.cc reads; nothing else includes it.

Condition values understood: integers, missing(), strings, integer lists ([a,b]) and
is_one_of(key, ...) on the constant key "true". Anything else is an error, so a new construct
in a newer ecCodes fails the build instead of silently changing names.
"""
import argparse
import os
import re
import sys

CONCEPTS = ["paramId", "shortName", "name", "units"]
VARIANTS = [".def", ".lte33.def", ".chemsplit.def", ".legacy.def"]
SINGLE = ["cfVarName.def", "cfName.def", "typeOfLevelConcept.def", "MTG2SwitchConcept.def",
          "MTG2SwitchViaTablesVersionConcept.def"]

# Condition kinds (keep in sync with concepts.cc).
K_INT, K_MISSING, K_STRING, K_INT_LIST, K_IS_ONE_OF = range(5)
GRIB_MISSING_LONG = 2147483647

ENTRY_RE = re.compile(r"""('[^']*'|"[^"]*"|[-\w.]+)\s*=\s*\{([^{}]*)\}""", re.S)


def strip_comments(text):
    out = []
    for line in text.splitlines():
        q = None
        cut = len(line)
        for i, c in enumerate(line):
            if q:
                if c == q:
                    q = None
            elif c in "'\"":
                q = c
            elif c == "#":
                cut = i
                break
        out.append(line[:cut])
    return "\n".join(out)


def parse_value(raw, where):
    v = raw.strip()
    if re.fullmatch(r"-?\d+", v):
        return (K_INT, int(v))
    if v == "missing()":
        return (K_MISSING, GRIB_MISSING_LONG)
    if (v.startswith('"') and v.endswith('"')) or (v.startswith("'") and v.endswith("'")):
        return (K_STRING, v[1:-1])
    m = re.fullmatch(r"\[\s*(-?\d+(?:\s*,\s*-?\d+)*)\s*\]", v)
    if m:
        return (K_INT_LIST, tuple(int(x) for x in m.group(1).split(",")))
    m = re.fullmatch(r"is_one_of\(\s*(\w+)\s*((?:,\s*-?\d+\s*)+)\)", v)
    if m:
        return (K_IS_ONE_OF, (m.group(1), tuple(int(x) for x in m.group(2).split(",")[1:])))
    raise SystemExit(f"gen_concepts: {where}: unsupported condition value {raw!r}")


def parse_concept_file(path):
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip_comments(f.read())
    entries = []
    for m in ENTRY_RE.finditer(text):
        name = m.group(1)
        if name[0] in "'\"":
            name = name[1:-1]
        conds = []
        for part in m.group(2).split(";"):
            part = part.strip()
            if not part:
                continue
            if "=" not in part:
                raise SystemExit(f"gen_concepts: {path}: bad condition {part!r}")
            key, value = part.split("=", 1)
            key = key.strip()
            kind, val = parse_value(value, path)
            if kind == K_IS_ONE_OF and key != "true":
                raise SystemExit(f"gen_concepts: {path}: is_one_of on key {key!r}")
            conds.append((key, kind, val))
        entries.append((name, tuple(conds)))
    return entries


def parse_inline_concept(path, name):
    """The entries of `concept NAME(...) { ... }` written inside a definition file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        text = strip_comments(f.read())
    m = re.search(r"concept\s+" + name + r"\s*\([^)]*\)\s*\{", text)
    if not m:
        raise SystemExit(f"gen_concepts: {path}: no inline concept {name}")
    depth, i = 1, m.end()
    while depth and i < len(text):
        depth += {"{": 1, "}": -1}.get(text[i], 0)
        i += 1
    body = text[m.end():i - 1]
    tmp = []
    for e in ENTRY_RE.finditer(body):
        n = e.group(1)
        if n[0] in "'\"":
            n = n[1:-1]
        conds = []
        for part in e.group(2).split(";"):
            part = part.strip()
            if part:
                key, value = part.split("=", 1)
                conds.append((key.strip(),) + parse_value(value, path))
        tmp.append((n, tuple(conds)))
    # ecCodes' grammar builds an inline concept's list newest first and, unlike a concept file,
    # does not reverse it: ties between equally specific entries go to the earlier one in the
    # text. Emit the entries in ecCodes' list order.
    return tmp[::-1]


def parse_code_table(path):
    """'code abbreviation title' lines -> {code: abbreviation}."""
    table = {}
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split(None, 2)
            if len(parts) >= 2 and re.fullmatch(r"\d+", parts[0]):
                table[int(parts[0])] = parts[1]
    return table


def concept_file_names():
    return [c + v for c in CONCEPTS for v in VARIANTS] + SINGLE


def concept_files(defs):
    """(relative path, absolute path) of every concept file, in a stable order."""
    out = []
    dirs = ["grib2"]
    lc = os.path.join(defs, "grib2", "localConcepts")
    if os.path.isdir(lc):
        dirs += ["grib2/localConcepts/" + d for d in sorted(os.listdir(lc))
                 if os.path.isdir(os.path.join(lc, d))]
    names = concept_file_names()
    for d in dirs:
        for n in names:
            p = os.path.join(defs, d, n)
            if os.path.isfile(p):
                out.append((d + "/" + n, p))
    return out


class Pool:
    def __init__(self):
        self.index = {}
        self.data = []
        self.size = 0

    def add(self, s):
        if s not in self.index:
            b = s.encode("utf-8")
            self.index[s] = self.size
            self.data.append(b)
            self.size += len(b) + 1
        return self.index[s]


def c_string_literal(chunks):
    """The pool as adjacent C string literals of at most ~4 KiB each."""
    lines = []
    cur = ""
    for b in chunks:
        s = ""
        for ch in b + b"\0":
            if ch == 0:
                s += "\\000"  # three digits: a following digit must not extend it
            elif ch in (34, 92):
                s += "\\" + chr(ch)
            elif 32 <= ch < 127 and ch != 63:  # no '?' (trigraphs)
                s += chr(ch)
            else:
                s += "\\%03o" % ch
        cur += s
        if len(cur) > 4000:
            lines.append('"' + cur + '"')
            cur = ""
    if cur:
        lines.append('"' + cur + '"')
    return "\n".join(lines) if lines else '""'


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--definitions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--source-label", default="")
    a = ap.parse_args()
    defs = a.definitions
    files = concept_files(defs)
    if not any(rel == "grib2/paramId.def" for rel, _ in files):
        raise SystemExit(f"gen_concepts: {defs}: no grib2/paramId.def (not an ecCodes "
                         "definitions directory?)")

    pool = Pool()
    keys = {}
    ints = []
    conds = []      # (key, kind, a, b)
    cond_sets = {}  # tuple of cond tuples -> (begin, count)
    set_list = []
    entries = []    # (value string, set index)
    file_list = []  # (path string, entry begin, entry count)

    def key_id(k):
        if k not in keys:
            keys[k] = len(keys)
        return keys[k]

    def cond_set(cs):
        if cs in cond_sets:
            return cond_sets[cs]
        begin = len(conds)
        for key, kind, val in cs:
            if kind in (K_INT, K_MISSING):
                conds.append((key_id(key), kind, val & 0xffffffff, 0))
            elif kind == K_STRING:
                conds.append((key_id(key), kind, pool.add(val), 0))
            elif kind == K_INT_LIST:
                conds.append((key_id(key), kind, len(ints), len(val)))
                ints.extend(v & 0xffffffff for v in val)
            else:  # is_one_of(key, values) on "true"
                other, vals = val
                conds.append((key_id(other), kind, len(ints), len(vals)))
                ints.extend(v & 0xffffffff for v in vals)
        idx = len(set_list)
        set_list.append((begin, len(cs)))
        cond_sets[cs] = idx
        return idx

    inline = [("grib2/section.4.def#datasetForLocal",
               parse_inline_concept(os.path.join(defs, "grib2", "section.4.def"),
                                    "datasetForLocal"))]
    for rel, es in [(rel, parse_concept_file(path)) for rel, path in files] + inline:
        begin = len(entries)
        for name, cs in es:
            entries.append((pool.add(name), cond_set(cs)))
        file_list.append((pool.add(rel), begin, len(es)))

    centres = parse_code_table(os.path.join(defs, "common", "c-11.table"))
    classes = parse_code_table(os.path.join(defs, "mars", "class.table"))
    types = parse_code_table(os.path.join(defs, "mars", "type.table"))
    key_names = sorted(keys, key=keys.get)

    # Flat uint32 layout; the header says where each table starts.
    u32 = []
    def table(rows):
        start = len(u32)
        for r in rows:
            u32.extend(r)
        return start
    t_conds = table(conds)
    t_sets = table(set_list)
    t_entries = table(entries)
    t_files = table(file_list)
    t_ints = table([[v] for v in ints])
    t_keys = table([[pool.add(k)] for k in key_names])
    t_centres = table([[c, pool.add(s)] for c, s in sorted(centres.items())])
    t_classes = table([[c, pool.add(s)] for c, s in sorted(classes.items())])
    t_types = table([[c, pool.add(s)] for c, s in sorted(types.items())])
    header = [len(conds), t_conds, len(set_list), t_sets, len(entries), t_entries,
              len(file_list), t_files, len(ints), t_ints, len(key_names), t_keys,
              len(centres), t_centres, len(classes), t_classes, len(types), t_types]

    tmp = a.out + ".tmp"
    with open(tmp, "w") as f:
        f.write("// Generated by src/format/grib/tables/gen_concepts.py from the ecCodes "
                "definitions in\n// " + (a.source_label or defs) + ". Do not edit.\n")
        f.write(f"// {len(file_list)} concept files, {len(entries)} entries, {len(set_list)} "
                f"condition sets, {len(conds)} conditions, {len(key_names)} keys.\n")
        f.write('#include "concepts_data.h"\n\nnamespace lsio::grib::internal {\n\n')
        f.write("const char kConceptStrings[] =\n" + c_string_literal(pool.data) + ";\n\n")
        f.write(f"const uint32_t kConceptHeader[{len(header)}] = {{" +
                ", ".join(map(str, header)) + "};\n\n")
        f.write(f"const uint32_t kConceptTables[{max(len(u32), 1)}] = {{\n")
        for i in range(0, len(u32), 24):
            f.write(",".join(map(str, u32[i:i + 24])) + ",\n")
        f.write("};\n\n")
        f.write("const char kConceptSource[] = " + c_string_literal([(a.source_label or defs).encode()]) + ";\n\n")
        f.write("}  // namespace lsio::grib::internal\n")
    os.replace(tmp, a.out)
    print(f"gen_concepts: {len(file_list)} files, {len(entries)} entries, {len(set_list)} sets, "
          f"{len(conds)} conditions, {pool.size} string bytes, {len(u32) * 4} table bytes",
          file=sys.stderr)


if __name__ == "__main__":
    main()
