"""The run config: one YAML file, validated, whose field descriptions are the config's help text.

`load_config(path)` turns any schema violation into one `InputError` line naming the file, the
YAML line and the dotted field, so a typo never surfaces as a traceback halfway through a run.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from mimicry.data.errors import InputError

StageName = Literal[
    "data",
    "generate",
    "ablate",
    "distill",
    "generate_students",
    "behaviour",
    "capture",
    "probe",
    "effort",
    "compare",
    "steer",
    "report",
]
STAGE_NAMES: tuple[str, ...] = get_args(StageName)  # pipeline order, one source of truth
AblationName = Literal[
    "original", "format_fixed_content_varied", "content_fixed_format_varied", "length_matched"
]
# RL conditions: GRPO with the teacher's reward (correct - cost per reasoning token), no traces.
RLConditionName = Literal["rl", "sft_then_rl"]
RL_CONDITIONS: tuple[str, ...] = get_args(RLConditionName)
ConditionName = Literal[
    "original",
    "format_fixed_content_varied",
    "content_fixed_format_varied",
    "length_matched",
    "rl",
    "sft_then_rl",
]
PositionName = Literal["last_prompt", "mean_prompt", "mean_trace", "think_open"]
ProbeTarget = Literal[
    "human_rt",
    "human_acc",
    "own_length",
    "correct",
    "difficulty_bin",
    "human_rt_partial_own_length",
    "own_length_partial_human_rt",
]


class Strict(BaseModel):
    """Base for every section: unknown keys are errors (a misspelt option must not be ignored)."""

    model_config = ConfigDict(extra="forbid")


class ModelSpec(Strict):
    """Where a model comes from and how it runs; a bare string in YAML is shorthand for `source`."""

    source: str = Field(
        description="'organism:teacher' or 'organism:base' (the shipped organism), a local "
        "Hugging Face folder, or a hub name; default: the hub name of `registry`.",
    )
    registry: str | None = Field(
        None,
        description="A model of the registry (`mimicry models`): its family's chat template, "
        "think tags and prompt style are used, and its hub name is the default source.",
    )
    traces: Path | None = Field(
        None,
        description="Pre-generated traces (JSONL, trace format) copied by the generate stage "
        "instead of running the model (e.g. DeepSeek-R1 answers from an API).",
    )
    activations: bool = Field(
        True,
        description="Capture (and probe) this model's activations; false for a model known only "
        "by its traces (e.g. the 671B DeepSeek-R1 teacher).",
    )
    trust_remote_code: bool = Field(
        False, description="Run the model repository's own code (only for sources you trust)."
    )
    revision: str | None = Field(None, description="Hub revision (branch, tag or commit).")
    dtype: Literal["float32", "bfloat16", "float16"] = Field(
        "float32", description="Weights dtype for generation and capture."
    )
    device: str = Field(
        "cpu", description="'cpu', 'cuda', 'cuda:N', or 'auto' (spread over every visible GPU)."
    )
    remote: Literal["no", "local", "ndif"] = Field(
        "no",
        description="Capture through nnsight remote execution: 'ndif' runs on NDIF (needs "
        "NDIF_API_KEY; residuals only, no attention entropy), 'local' is its dry run here.",
    )
    prompt_style: Literal["auto", "chat", "plain"] | None = Field(
        None,
        description="How prompts are shown (generate, capture and steer alike): 'chat' (one user "
        "turn through the chat template), 'plain' (the item text), 'auto' (chat when the "
        "tokenizer has a template); null: the registry family's, else auto.",
    )
    system_prompt: str | None = Field(
        None, description="A system turn before every item (chat style only); null: none."
    )
    instruction: str | None = Field(
        None,
        description="Text added after every item prompt; null: the default, which for a chat "
        "model without think tags asks it to reason step by step and end with 'The answer is: "
        "X' (none otherwise); '': no instruction.",
    )
    answer_pattern: str | None = Field(
        None,
        description="Regular expression (case-insensitive) that ends the reasoning where the "
        "model writes no close tag; the answer is the line after its first match. null: the "
        "default ('the answer is' for a chat model without think tags, else the think tags); "
        "'': the think tags only.",
    )
    think_tags: tuple[str, str] | None = Field(
        None,
        description="The strings that open and close reasoning; null: the registry family's, "
        "else <think> </think>.",
    )

    @model_validator(mode="before")
    @classmethod
    def _from_string_or_registry(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"source": value}
        if isinstance(value, dict) and value.get("registry") is not None:
            from mimicry.experiments.registry import load_registry

            models = load_registry().models
            name = value["registry"]
            if name not in models:
                raise ValueError(f"unknown registry model {name!r} (see `mimicry models`)")
            if value.get("source") is None:
                value = {**value, "source": models[name].hub}
        return value


class GeneratedSet(Strict):
    """Items drawn by a task generator (no human norms)."""

    family: str = Field(description="Generator family (see `mimicry data list`).")
    n: int = Field(gt=0, description="Number of items to draw.")
    seed: int | None = Field(None, description="Generator seed; defaults to the run seed.")
    role: Literal["train", "eval"] = Field(
        "train",
        description="'train': distillation prompts (RUN/train_items.csv); 'eval': added to the "
        "evaluated items (RUN/items.csv).",
    )
    options: dict[str, Any] = Field(
        default_factory=dict, description="Extra keyword options for the generator."
    )


class TasksConfig(Strict):
    """Which items the study evaluates (human-normed) and which prompts it distils on."""

    builtin: list[str] = Field(
        default_factory=lambda: ["relational_3ps", "relational_4ps", "cardinal_directions"],
        description="Built-in human-normed tasks evaluated (see `mimicry data list`).",
    )
    items_file: Path | None = Field(
        None, description="A user item table (CSV/JSONL) added to the evaluated items."
    )
    max_items_per_task: int | None = Field(
        None, gt=0, description="Keep at most this many evaluated items per task (seeded draw)."
    )
    generated: list[GeneratedSet] = Field(
        default_factory=list, description="Generated item sets (distillation prompts by default)."
    )


class ModelsConfig(Strict):
    """The teacher, the student architecture before distillation, and published students."""

    teacher: ModelSpec = Field(
        default_factory=lambda: ModelSpec(source="organism:teacher"),
        description="The reasoning teacher whose traces are distilled.",
    )
    base: ModelSpec = Field(
        default_factory=lambda: ModelSpec(source="organism:base"),
        description="The student before distillation (also the random-init architecture).",
    )
    students: dict[str, ModelSpec] = Field(
        default_factory=dict,
        description="Already-distilled students (e.g. a published R1-Distill model), studied as "
        "student_<key> next to the students the run distils itself.",
    )

    @model_validator(mode="after")
    def _student_keys_are_names(self) -> ModelsConfig:
        for key in self.students:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]*", key):
                raise ValueError(f"student key {key!r} must be letters, digits, '.', '_' or '-'")
        return self


class GenerateConfig(Strict):
    """Sampling of reasoning traces (teacher, base and students)."""

    samples: int = Field(1, gt=0, description="Samples per item.")
    max_new_tokens: int = Field(128, gt=0, description="Generation budget per sample.")
    temperature: float = Field(0.0, ge=0.0, description="0 means greedy decoding.")
    batch_size: int = Field(16, gt=0, description="Prompts per generation batch.")
    backend: Literal["hf", "vllm"] = Field("hf", description="Generation backend.")


class RLConfig(Strict):
    """GRPO of the RL students (`rl`: the base; `sft_then_rl`: the original SFT student)."""

    max_steps: int = Field(60, gt=0, description="GRPO optimiser steps.")
    learning_rate: float = Field(2e-5, gt=0, description="GRPO learning rate.")
    batch_size: int = Field(
        16, gt=0, description="Completions per step (a multiple of num_generations)."
    )
    num_generations: int = Field(4, ge=2, description="Completions per prompt (GRPO group).")
    max_completion_length: int = Field(256, gt=0, description="Longest sampled completion.")
    cost_per_token: float = Field(
        0.004, ge=0, description="Reward lost per reasoning token (the teacher's reward)."
    )
    temperature: float = Field(1.0, gt=0, description="Sampling temperature of the rollouts.")

    @model_validator(mode="after")
    def _groups(self) -> RLConfig:
        if self.batch_size % self.num_generations:
            raise ValueError(
                f"batch_size {self.batch_size} must be a multiple of num_generations "
                f"{self.num_generations}"
            )
        return self


class DistillConfig(Strict):
    """Students of the base: SFT on the teacher's traces, one per ablation set, and RL students."""

    conditions: list[ConditionName] = Field(
        default_factory=lambda: [
            "original",
            "format_fixed_content_varied",
            "content_fixed_format_varied",
            "length_matched",
        ],
        description="Ablation sets, one SFT student each; `rl` and `sft_then_rl` add GRPO "
        "students (the base by RL alone, and student_original followed by the same RL).",
    )
    epochs: float = Field(1.0, gt=0, description="SFT epochs over the ablation set.")
    max_steps: int | None = Field(
        None, gt=0, description="Cap on optimiser steps (overrides epochs when set)."
    )
    learning_rate: float = Field(5e-4, gt=0, description="Peak learning rate.")
    batch_size: int = Field(8, gt=0, description="Per-step batch size.")
    lora: bool = Field(
        False, description="Train a LoRA adapter (merged on save) instead of full FT."
    )
    lora_r: int = Field(8, gt=0, description="LoRA rank.")
    save_steps: int = Field(
        50, gt=0, description="Checkpoint every N steps (resume point after a kill)."
    )
    rl: RLConfig = Field(default_factory=RLConfig, description="GRPO of the RL students.")

    @model_validator(mode="after")
    def _rl_needs_original(self) -> DistillConfig:
        if "sft_then_rl" in self.conditions and "original" not in self.conditions:
            raise ValueError("condition sft_then_rl starts from student_original: add 'original'")
        return self

    @property
    def sft_conditions(self) -> list[str]:
        """The conditions trained by SFT on an ablation set."""
        return [c for c in self.conditions if c not in RL_CONDITIONS]


class BehaviourConfig(Strict):
    """Behavioural alignment of reasoning cost with human difficulty."""

    n_boot: int = Field(2000, gt=0, description="Bootstrap resamples for CIs.")
    n_perm: int = Field(2000, gt=0, description="Permutations for p-values.")
    log_cost: bool = Field(False, description="Cost = mean log reasoning tokens.")
    difficulty: Literal["auto", "rt", "error"] = Field(
        "auto",
        description="Human difficulty: 'auto' (RT where a task has RT norms, else 1 - accuracy), "
        "median RT, or 1 - accuracy.",
    )
    reference: str | None = Field(
        "teacher",
        description="Model whose item-wise cost the others are compared with (inflation law: "
        "ratio k and its dependence on difficulty); null: none.",
    )
    min_items: int = Field(5, gt=2, description="Tasks with fewer items are excluded (counted).")
    outliers: Literal["none", "cooks"] = Field(
        "none", description="Outlier rule ('cooks': Cook's distance > 4/n, counted as exclusions)."
    )


class CaptureConfig(Strict):
    """Per-layer activations and attention entropy."""

    positions: list[PositionName] = Field(
        default_factory=lambda: ["last_prompt", "mean_prompt", "mean_trace", "think_open"],
        description="Token positions whose residual stream is saved.",
    )
    batch_size: int = Field(
        16, ge=0, description="Items per forward pass; 0 chooses it from free GPU memory or RAM."
    )
    backend: Literal["nnsight", "transformer_lens"] = Field(
        "nnsight", description="Capture backend."
    )
    shard_size: int = Field(
        256, gt=0, description="Items per resumable shard (a killed capture resumes at a shard)."
    )
    traces_from: str | None = Field(
        "teacher",
        description="Read every model on this model's traces (prompt + trace); null: prompt only.",
    )
    entropy: bool = Field(True, description="Also write attention entropy per layer and head.")
    random_init_baseline: bool = Field(
        True, description="Also capture a random-init copy of the base, named base__random_init."
    )


class EffortStageConfig(Strict):
    """Per-token probes of the work left along each trace (teacher's traces and the model's own)."""

    fractions: list[float] = Field(
        default_factory=lambda: [round(0.1 * i, 1) for i in range(11)],
        description="Fractions of the trace read (0: the think-open token, 1: the last one).",
    )
    every: int = Field(0, ge=0, description="Also read every S-th trace token (0: off).")
    targets: list[Literal["remaining", "fraction", "difficulty"]] = Field(
        default_factory=lambda: ["remaining", "fraction", "difficulty"],
        description="Targets per position: tokens remaining, fraction done, human difficulty.",
    )
    folds: int = Field(5, ge=2, description="Grouped CV folds (an item never on both sides).")
    n_boot: int = Field(300, ge=100, description="Bootstrap resamples of items for CIs.")

    @model_validator(mode="after")
    def _fractions_in_range(self) -> EffortStageConfig:
        if any(not 0 <= f <= 1 for f in self.fractions):
            raise ValueError("fractions must lie in [0, 1]")
        if not self.fractions and not self.every:
            raise ValueError("give fractions or every > 0")
        return self


class ProbeConfig(Strict):
    """Per-layer linear probes with baselines and control tasks."""

    targets: list[ProbeTarget] = Field(
        default_factory=lambda: ["human_rt", "own_length", "correct", "difficulty_bin"],
        description="Probe targets.",
    )
    positions: list[PositionName] | None = Field(
        None, description="Positions probed; null: all captured positions."
    )
    folds: int = Field(5, gt=1, description="Grouped cross-validation folds.")
    n_perm: int = Field(200, gt=0, description="Permutations for ridge-probe p-values.")
    n_perm_logistic: int | None = Field(
        None,
        gt=0,
        description="Permutations for logistic probes (each one is a refit); null: n_perm.",
    )
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for probe CIs.")


class SteerConfig(Strict):
    """Causal test: add the difficulty direction during generation."""

    model: str = Field(
        "student_original", description="Model steered (a model name of this run, e.g. teacher)."
    )
    layer: int | None = Field(
        None,
        description="Activation layer (1..n_layers); null: the model's best human-RT probe layer.",
    )
    position: PositionName = Field(
        "last_prompt", description="Position whose difference-of-means direction is used."
    )
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for the paired CIs.")
    alphas: list[float] = Field(
        default_factory=lambda: [-0.5, 0.0, 0.5],
        description="Steering strengths, in multiples of the layer's typical residual norm.",
    )
    n_items: int | None = Field(None, gt=0, description="Items steered (null: all).")

    @field_validator("alphas")
    @classmethod
    def _finite_alphas(cls, alphas: list[float]) -> list[float]:
        import math

        bad = [a for a in alphas if not math.isfinite(a)]
        if bad:
            raise ValueError(f"alphas must be finite numbers, got {bad[0]!r}")
        return alphas


class ReportConfig(Strict):
    """The final report."""

    title: str = Field("mimicry report", description="Report title.")
    n_boot: int = Field(1000, gt=0, description="Bootstrap resamples for entropy-difficulty CIs.")
    n_perm: int = Field(1000, gt=0, description="Permutations for entropy-difficulty p-values.")


class RunConfig(Strict):
    """A whole study: models, items, and the options of every stage."""

    name: str = Field("run", description="Run name (default output folder runs/<name>).")
    seed: int = Field(0, description="Seed for every random choice of the run.")
    threads: int | None = Field(
        None,
        gt=0,
        description="CPU threads for torch and BLAS during the run (null: library defaults). "
        "1 is fastest for small models on a shared CPU: several threads spin against each other.",
    )
    tasks: TasksConfig = Field(default_factory=TasksConfig, description="Items.")
    models: ModelsConfig = Field(default_factory=ModelsConfig, description="Models.")
    generate: GenerateConfig = Field(default_factory=GenerateConfig, description="Generation.")
    distill: DistillConfig = Field(default_factory=DistillConfig, description="Distillation.")
    behaviour: BehaviourConfig = Field(default_factory=BehaviourConfig, description="Behaviour.")
    capture: CaptureConfig = Field(default_factory=CaptureConfig, description="Capture.")
    probe: ProbeConfig = Field(default_factory=ProbeConfig, description="Probes.")
    effort: EffortStageConfig = Field(
        default_factory=EffortStageConfig, description="Remaining-effort probes along traces."
    )
    steer: SteerConfig = Field(default_factory=SteerConfig, description="Steering.")
    report: ReportConfig = Field(default_factory=ReportConfig, description="Report.")
    stages: list[StageName] = Field(
        default_factory=lambda: list(STAGE_NAMES), description="Stages run, in pipeline order."
    )

    @field_validator("name")
    @classmethod
    def _name_is_a_folder_name(cls, name: str) -> str:
        if (
            not name.strip()
            or name in (".", "..")
            or "/" in name
            or "\\" in name
            or name.startswith("~")
            or any(ord(c) < 32 for c in name)
        ):
            raise ValueError(
                f"name {name!r} must be a plain folder name (it names runs/<name>; no '/', '..')"
            )
        return name

    def model_names(self) -> list[str]:
        """Every model name of the run (teacher, base, distilled and published students)."""
        names = ["teacher", "base"]
        if "distill" in self.stages:
            names += [f"student_{c}" for c in self.distill.conditions]
        names += [f"student_{key}" for key in self.models.students]
        return names

    @model_validator(mode="after")
    def _student_names_unique(self) -> RunConfig:
        if "distill" in self.stages:
            clash = sorted(set(self.models.students) & set(self.distill.conditions))
            if clash:
                raise ValueError(
                    f"models.students key {clash[0]!r} is also a distill condition "
                    "(both would be named student_" + clash[0] + ")"
                )
        return self


def load_config(path: str | Path) -> RunConfig:
    """Read and validate a YAML run config; raise one-line `InputError`s on any problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError("config file not found", file=path)
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InputError("not UTF-8 text", file=path, row=line) from None
    try:
        raw = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 (a SafeLoader subclass)
    except _DuplicateKey as error:
        raise InputError(
            f"duplicate key {error.key!r} (first on line {error.first})",
            file=path,
            row=error.line,
            field=error.key,
        ) from None
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        row = None if mark is None else mark.line + 1
        problem = getattr(error, "problem", None) or "invalid YAML"
        raise InputError(f"invalid YAML: {problem}", file=path, row=row) from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise InputError("the config must be a YAML mapping of sections", file=path)
    try:
        config = RunConfig.model_validate(raw)
    except ValidationError as error:
        first = error.errors()[0]
        loc = [str(part) for part in first["loc"]]
        raise InputError(
            _explain(first), file=path, row=_yaml_line(text, loc), field=".".join(loc) or None
        ) from None
    if "steer" in config.stages and config.steer.model not in config.model_names():
        raise InputError(
            f"steer.model {config.steer.model!r} is not a model of this run "
            f"({', '.join(config.model_names())})",
            file=path,
            row=_yaml_line(text, ["steer", "model"]),
            field="steer.model",
        )
    if config.tasks.items_file is not None and not config.tasks.items_file.is_absolute():
        config.tasks.items_file = (path.parent / config.tasks.items_file).resolve()
    for spec in (config.models.teacher, config.models.base, *config.models.students.values()):
        if spec.traces is not None and not spec.traces.is_absolute():
            spec.traces = (path.parent / spec.traces).resolve()
    if config.tasks.items_file is not None and not config.tasks.items_file.is_file():
        raise InputError(
            f"no such item table: {config.tasks.items_file}",
            file=path,
            row=_yaml_line(text, ["tasks", "items_file"]),
            field="tasks.items_file",
        )
    return config


class _DuplicateKey(yaml.YAMLError):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(f"duplicate key {key!r} on line {line}")
        self.key, self.line, self.first = key, line, first


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that refuses a mapping with the same key twice (YAML would keep the last)."""

    def construct_mapping(self, node, deep=False):
        if isinstance(node, yaml.MappingNode):
            seen: dict = {}
            for key_node, _ in node.value:
                key = self.construct_object(key_node, deep=True)
                try:
                    hash(key)
                except TypeError:
                    continue
                if key in seen:
                    raise _DuplicateKey(str(key), key_node.start_mark.line + 1, seen[key])
                seen[key] = key_node.start_mark.line + 1
        return super().construct_mapping(node, deep=deep)


def with_reduced_statistics(config: RunConfig, *, steer_items: int) -> RunConfig:
    """The same study with few resamples, two probe folds and the ridge targets only, so a
    handful of items still runs every stage (CPU checks of the real-model configs); the
    model-bound stages (generate, capture) are left as they are."""
    return config.model_copy(
        update={
            "behaviour": config.behaviour.model_copy(
                update={"n_boot": 20, "n_perm": 20, "min_items": 3}
            ),
            "probe": config.probe.model_copy(
                update={
                    "targets": ["human_rt", "own_length"],
                    "folds": 2,
                    "n_perm": 3,
                    "n_boot": 10,
                }
            ),
            "report": config.report.model_copy(update={"n_boot": 20, "n_perm": 20}),
            "steer": config.steer.model_copy(update={"n_boot": 20, "n_items": steer_items}),
        }
    )


def dump_config(config: RunConfig) -> str:
    """The fully resolved config as YAML (what `RUN/config.yaml` records)."""
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False)


def _explain(error: dict) -> str:
    if error["type"] == "extra_forbidden":
        return "unknown option (see `mimicry config-help`)"
    return error["msg"]


def _yaml_line(text: str, loc: list[str]) -> int | None:
    """1-based line of the deepest key of `loc` present in the YAML text."""
    try:
        node = yaml.compose(text)
    except yaml.YAMLError:
        return None
    line = None
    for part in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == part), None)
            key = next((k for k, v in node.value if k.value == part), None)
            if match is None:
                break
            line = key.start_mark.line + 1
            node = match
        elif isinstance(node, yaml.SequenceNode) and part.isdigit() and int(part) < len(node.value):
            node = node.value[int(part)]
            line = node.start_mark.line + 1
        else:
            break
    return line


def config_help(model: type[BaseModel] = RunConfig, prefix: str = "") -> list[str]:
    """One line per option, `section.field (type, default): description`, for `mimicry config-help`."""
    lines = []
    for name, field in model.model_fields.items():
        dotted = f"{prefix}{name}"
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            lines.append(f"{dotted}: {field.description or ''}".rstrip())
            lines.extend(config_help(annotation, prefix=f"{dotted}."))
            continue
        if field.is_required():
            default_text = "required"
        else:
            default = field.default_factory() if field.default_factory else field.default
            if isinstance(default, BaseModel):
                default = default.model_dump(mode="json")
            default_text = f"default {default!r}"
        type_name = _type_name(annotation)
        lines.append(f"  {dotted} ({type_name}, {default_text}): {field.description or ''}")
    return lines


def _type_name(annotation: Any) -> str:
    """Readable type: `Literal['a', 'b']` -> `a|b`, classes by their bare name."""
    text = str(annotation).replace("typing.", "").replace("pathlib.", "")
    text = re.sub(r"<class '(?:[\w.]*\.)?(\w+)'>", r"\1", text)
    text = re.sub(r"experiments\.config\.", "", text)
    text = re.sub(
        r"Literal\[([^\]]*)\]", lambda m: m.group(1).replace("'", "").replace(", ", "|"), text
    )
    return text
