"""NLU benchmark: intent accuracy and macro F1 of the trained model on the held-out set.

Run with `make benchmark-nlu`. The held-out set (tests/nlu_holdout/) was written
independently of the training data, so these figures measure generalisation.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from bot.launch import model_path, rasa_env
from bot.settings import PROJECT_ROOT

HOLDOUT = PROJECT_ROOT / "tests" / "nlu_holdout" / "nlu.yml"
OUT = PROJECT_ROOT / "results" / "nlu_holdout"


def run_rasa_test() -> dict[str, dict[str, float]]:
    """Evaluate the model on the held-out set; return Rasa's intent report."""
    OUT.mkdir(parents=True, exist_ok=True)
    command = [
        str(Path(sys.executable).parent / "rasa"), "test", "nlu",
        "--model", str(model_path()), "--nlu", str(HOLDOUT), "--out", str(OUT),
        "--no-plot",
    ]  # fmt: skip
    subprocess.run(command, check=True, cwd=PROJECT_ROOT, env=rasa_env(),
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    return dict(json.loads((OUT / "intent_report.json").read_text()))


def main() -> int:
    report = run_rasa_test()
    intents = {k: v for k, v in report.items() if isinstance(v, dict) and "support" in v
               and k not in ("macro avg", "weighted avg", "micro avg")}  # fmt: skip
    print(f"Held-out NLU test set: {HOLDOUT.relative_to(PROJECT_ROOT)}")
    print(f"{'intent':<22}{'precision':>10}{'recall':>8}{'f1':>8}{'n':>5}")
    for name, row in sorted(intents.items(), key=lambda item: item[1]["f1-score"]):
        print(f"{name:<22}{row['precision']:>10.3f}{row['recall']:>8.3f}"
              f"{row['f1-score']:>8.3f}{int(row['support']):>5}")  # fmt: skip
    total = sum(int(r["support"]) for r in intents.values())
    print(f"\nexamples: {total}")
    print(f"intent accuracy: {report['accuracy']:.3f}")
    print(f"macro F1:        {report['macro avg']['f1-score']:.3f}")
    print(f"weighted F1:     {report['weighted avg']['f1-score']:.3f}")
    errors = json.loads((OUT / "intent_errors.json").read_text())
    pairs: dict[tuple[str, str], int] = {}
    for error in errors:
        key = (error["intent"], error["intent_prediction"]["name"])
        pairs[key] = pairs.get(key, 0) + 1
    print("\nmost frequent confusions (true -> predicted):")
    for (true, predicted), n in sorted(pairs.items(), key=lambda i: -i[1])[:8]:
        print(f"  {true} -> {predicted}: {n}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
