"""The model organism: a small teacher that reasons in a scratchpad, and its trace-free base.

The teacher is trained by the suite itself on generated items of the human-normed task families:
first by SFT on an explicit step-by-step scratchpad, then by RL (trl's GRPOTrainer, reward for the
correct answer minus a cost per reasoning token) so that its trace length follows the work an item
needs. The base is the student architecture trained on the same task text without traces. Both are
plain Hugging Face folders (safetensors + word tokenizer); shipped copies live in `weights/`.

Entry points: `distill.organism.train.train_organism` (the whole seeded recipe) and
`distill.organism.evaluate.evaluate_model` (accuracy and length-vs-work correlation).
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
TEACHER_DIR = WEIGHTS_DIR / "teacher"
BASE_DIR = WEIGHTS_DIR / "base"
