#!/usr/bin/env bash
# Conversation tests: the trained model must predict every intent, entity and action
# of the test stories in tests/stories/ (NLU and dialogue policy together).
set -euo pipefail
cd "$(dirname "$0")/.."
out=results/stories
rm -rf "$out"
mkdir -p "$out"
if ! .venv/bin/rasa test core --model models/switchboard.tar.gz --stories tests/stories \
    --out "$out" --no-plot >"$out/rasa.log" 2>&1; then
  tail -40 "$out/rasa.log"
  exit 1
fi
.venv/bin/python - "$out" <<'PY'
import json, pathlib, sys
out = pathlib.Path(sys.argv[1])
report = json.loads((out / "story_report.json").read_text())
failed_file = out / "failed_test_stories.yml"
failed = failed_file.read_text() if failed_file.exists() else ""
n_failed = failed.count("- story:")
totals = report.get("conversation_accuracy") or {}
total = int(totals.get("total", 0))
if n_failed:
    print(failed)
print(f"stories: {total - n_failed} passed, {n_failed} failed")
sys.exit(1 if n_failed or total == 0 else 0)
PY
