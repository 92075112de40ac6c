"""The shipped model registry: valid, complete for the published triples, listed by `mimicry models`."""

from __future__ import annotations

from pathlib import Path

from mimicry.experiments.cli import run
from mimicry.experiments.registry import load_registry

REQUIRED_TRIPLES = {
    "r1-distill-qwen-1.5b": ("deepseek-r1-distill-qwen-1.5b", "qwen2.5-math-1.5b"),
    "r1-distill-qwen-7b": ("deepseek-r1-distill-qwen-7b", "qwen2.5-math-7b"),
    "r1-distill-llama-8b": ("deepseek-r1-distill-llama-8b", "llama-3.1-8b"),
    "r1-distill-qwen-14b": ("deepseek-r1-distill-qwen-14b", "qwen2.5-14b"),
    "r1-distill-qwen-32b": ("deepseek-r1-distill-qwen-32b", "qwen2.5-32b"),
}


def test_registry_holds_the_published_triples():
    reg = load_registry()
    for name, (student, base) in REQUIRED_TRIPLES.items():
        triple = reg.triples[name]
        assert (triple.student, triple.base) == (student, base)
        assert reg.models[triple.teacher].role == "teacher"
        assert reg.models[student].role == "student" and reg.models[base].role == "base"
        # A student and its base share an architecture and width, so CKA and directions compare.
        assert reg.models[student].architecture == reg.models[base].architecture
        assert reg.models[student].d_model == reg.models[base].d_model
    assert "qwq-32b" in reg.models


def test_bf16_sizes_follow_parameter_counts():
    reg = load_registry()
    for name, entry in reg.models.items():
        if name == "deepseek-r1":
            continue  # MoE: the registry states its full bf16 size too, checked below
        assert abs(entry.bf16_gb - 2 * entry.params_b) / (2 * entry.params_b) < 0.05, name
    assert reg.models["deepseek-r1"].bf16_gb == 2 * reg.models["deepseek-r1"].params_b


def test_models_command_lists_a_triple(capsys):
    assert run(["models", "--triple", "r1-distill-qwen-1.5b"]) == 0
    out = capsys.readouterr().out
    assert "deepseek-ai/DeepSeek-R1-Distill-Qwen-1.5B" in out and "Qwen/Qwen2.5-Math-1.5B" in out


def test_unknown_triple_is_one_line_exit_2(capsys):
    assert run(["models", "--triple", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "unknown triple 'nope'" in err[0]


def test_broken_registry_names_file_and_field(tmp_path: Path, capsys):
    bad = tmp_path / "models.yaml"
    bad.write_text(
        "conventions: {}\nmodels:\n  m: {hub: a/b, role: student, architecture: qwen2, params_b: 1,"
        " n_layers: 2, d_model: 8, bf16_gb: 2, convention: missing, runs: cpu}\ntriples: {}\n"
    )
    assert run(["models", "--registry", str(bad)]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and "unknown convention 'missing'" in err


def test_tiny_models_carry_the_family_chat_template_and_think_tags(tmp_path: Path):
    from mimicry.probes.loading import load_tokenizer
    from tests.tiny_models import make_tiny_like

    reg = load_registry()
    for name in ("deepseek-r1-distill-qwen-1.5b", "deepseek-r1-distill-llama-8b", "qwq-32b"):
        folder = make_tiny_like(tmp_path / name, name)
        tokenizer = load_tokenizer(folder)
        convention = reg.convention_of(name)
        prompt = tokenizer.apply_chat_template(
            [{"role": "user", "content": "Is A left of C ?"}],
            tokenize=False,
            add_generation_prompt=True,
        )
        tokens = tokenizer.convert_ids_to_tokens(
            tokenizer(prompt, add_special_tokens=False).input_ids
        )
        assert "<unk>" not in tokens
        assert tokens[-1] == convention.think_open  # the generation prompt opens the think span
        assert all(marker in tokens for marker in convention.chat_tokens if marker in prompt)
