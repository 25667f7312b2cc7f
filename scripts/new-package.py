#!/usr/bin/env python3
"""Scaffolds packages/<name> with the workspace's conventions: python3 scripts/new-package.py <name> "<description>" [entry ...]"""
import json, os, sys

name, description, *entries = sys.argv[1:]
entries = ["index"] + entries
root = f"packages/{name}"
os.makedirs(f"{root}/src", exist_ok=True)
os.makedirs(f"{root}/test", exist_ok=True)

def key(entry):
    return "." if entry == "index" else f"./{entry}"

def built(entry):
    return {"types": f"./dist/{entry}.d.ts", "default": f"./dist/{entry}.js"}

exports = {key(e): {"@chronicle/source": f"./src/{e}.ts", **built(e)} for e in entries}
published = {key(e): built(e) for e in entries}
for table in (exports, published):
    table["./internal/*"] = None
    table["./package.json"] = "./package.json"

pkg = {
    "name": f"@chronicle/{name}",
    "version": "0.1.0",
    "description": description,
    "license": "MIT",
    "type": "module",
    "sideEffects": False,
    "exports": exports,
    "files": ["dist", "README.md", "CHANGELOG.md"],
    "publishConfig": {"access": "public", "exports": published},
    "scripts": {
        "build": "tsc -p tsconfig.build.json",
        "typecheck": "tsc -p tsconfig.json",
        "test": f"vitest run --config ../../vitest.config.ts --project {name}",
    },
    "peerDependencies": {"effect": "catalog:"},
    "devDependencies": {"effect": "catalog:"},
}
with open(f"{root}/package.json", "w") as f:
    json.dump(pkg, f, indent=2)
    f.write("\n")
with open(f"{root}/tsconfig.json", "w") as f:
    json.dump({"extends": "../../tsconfig.base.json",
               "compilerOptions": {"noEmit": True, "customConditions": ["@chronicle/source"]},
               "include": ["src", "test", "bench", "examples", "../../types"]}, f, indent=2)
    f.write("\n")
with open(f"{root}/tsconfig.build.json", "w") as f:
    json.dump({"extends": "../../tsconfig.base.json",
               "compilerOptions": {"rootDir": "src", "outDir": "dist"},
               "include": ["src"]}, f, indent=2)
    f.write("\n")
