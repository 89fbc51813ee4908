#!/bin/sh
# Sets up everything and runs the main job on the bundled example model.
set -eu
cd "$(dirname "$0")/.."
sh tools/setup.sh
exec /usr/bin/python3 tools/demo.py "$@"
