"""The model organism: a teacher whose reasoning allocation comes from RL, and a base that reasons.

Trained by the suite itself on generated items of the human-normed task families. A competence
phase (SFT on minimal scratchpads) teaches the tasks. The teacher's warm start then imitates a
per-item random mix of the minimal scratchpad and a rereading one (every premise written out again
before deriving), so its length does not follow the work; GRPO (trl) with a cost per reasoning
token turns that into an allocation that does. The base, the student architecture before
distillation, keeps one fixed habit: it rereads every premise once, then derives. All are plain
Hugging Face folders (safetensors + word tokenizer); shipped copies live in `weights/`.

Entry points: `distill.organism.train.train_organism` (the whole seeded recipe) and
`distill.organism.evaluate.evaluate_model` (accuracy and length-vs-work correlation).
"""

from pathlib import Path

WEIGHTS_DIR = Path(__file__).parent / "weights"
TEACHER_DIR = WEIGHTS_DIR / "teacher"
TEACHER_BEFORE_RL_DIR = WEIGHTS_DIR / "teacher_before_rl"
BASE_DIR = WEIGHTS_DIR / "base"
