#!/usr/bin/env python3
"""Validates STIX 2.1 bundles against the OASIS JSON schemas, offline.

usage: stix_validate.py SCHEMA_DIR BUNDLE.json...

Every schema file under SCHEMA_DIR is loaded and registered under its $id,
so the $refs between files resolve locally; any other reference fails
rather than being fetched. The bundle is checked against common/bundle.json
and each object against the schema of its type (when there is one).
Exit 0 valid, 1 invalid, 2 usage or setup errors. Works with Debian 12's
python3-jsonschema (4.10, RefResolver) and newer (referencing registry).
"""
import json
import os
import sys

try:
    import jsonschema
except ImportError:
    print("stix_validate: python3-jsonschema is not installed", file=sys.stderr)
    sys.exit(2)


def load_schemas(root):
    by_id, by_path = {}, {}
    for dirpath, _, files in os.walk(root):
        for name in files:
            if name.endswith(".json"):
                path = os.path.join(dirpath, name)
                with open(path, encoding="utf-8") as f:
                    schema = json.load(f)
                by_id[schema["$id"]] = schema
                by_path[os.path.relpath(path, root)] = schema
    return by_id, by_path


def offline(uri):
    raise RuntimeError("schema reference outside the local schemas: %s" % uri)


def validator_for(schema, by_id):
    cls = jsonschema.validators.validator_for(schema)
    try:
        from referencing import Registry, Resource
        from referencing.jsonschema import DRAFT202012
        registry = Registry(retrieve=lambda uri: offline(uri)).with_resources(
            (sid, Resource.from_contents(s, default_specification=DRAFT202012))
            for sid, s in by_id.items())
        return cls(schema, registry=registry)
    except ImportError:
        resolver = jsonschema.RefResolver.from_schema(schema, store=dict(by_id),
                                                      handlers={"http": offline, "https": offline})
        return cls(schema, resolver=resolver)


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    by_id, by_path = load_schemas(argv[1])
    bundle_schema = by_path[os.path.join("common", "bundle.json")]
    per_type = {}
    for rel, schema in by_path.items():
        kind = os.path.splitext(os.path.basename(rel))[0]
        per_type[kind] = schema
    bad = 0
    for path in argv[2:]:
        with open(path, encoding="utf-8") as f:
            bundle = json.load(f)
        errors = [e.message for e in validator_for(bundle_schema, by_id).iter_errors(bundle)]
        for i, obj in enumerate(bundle.get("objects", [])):
            schema = per_type.get(obj.get("type"))
            if schema is None:
                continue
            for e in validator_for(schema, by_id).iter_errors(obj):
                errors.append("objects[%d] %s: %s" % (i, obj.get("id"), e.message[:300]))
        if errors:
            bad = 1
            print("%s: INVALID" % path)
            for e in errors[:20]:
                print("  " + e[:400])
        else:
            print("%s: valid (%d objects)" % (path, len(bundle.get("objects", []))))
    return bad


if __name__ == "__main__":
    sys.exit(main(sys.argv))
