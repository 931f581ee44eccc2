"""pipeline.yaml loading: strict keys and types, one-line errors naming file and key, overrides, the CLI."""

import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from pipelines.runner import beam_args
from runconfig.root import PipelineConfig, load_config
from runconfig.typed import ConfigError, build, config_hash

ROOT = Path(__file__).resolve().parents[2]


def _write(tmp_path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text)
    return path


def test_shipped_pipeline_yaml_loads():
    cfg = load_config(ROOT / "pipeline.yaml")
    assert isinstance(cfg, PipelineConfig)


def test_defaults_without_a_file():
    assert load_config(None).runner.kind == "in_process"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "run:\n  rows_per_shard: 1\n  rows_per_shrd: 2\n",
            "unknown key 'run.rows_per_shrd' (did you mean 'rows_per_shard'?)",
        ),
        ("rnu:\n  name: x\n", "unknown key 'rnu' (did you mean 'run'?)"),
        ("run:\n  rows_per_shard: one\n", "'run.rows_per_shard' must be int, got str 'one'"),
        ("run:\n  rows_per_shard: true\n", "'run.rows_per_shard' must be int, got bool"),
        (
            "runner:\n  kind: dask\n",
            "'runner.kind' must be one of ['in_process', 'multi_process', 'portable'], got 'dask'",
        ),
        ("runner:\n  kind: portable\n", "runner: kind 'portable' needs job_endpoint"),
        (
            "train:\n  input_name: ids\n",
            "'train.input_name' must be one of ['auto', 'record', 'fixed'], got 'ids'",
        ),
        ("runner: 3\n", "'runner' must be a mapping, got int"),
        (
            "runner:\n  extra_options: --runner=PrismRunner\n",
            "'runner.extra_options' must be a list, got str",
        ),
        ("runner:\n  extra_options: ['--runner=PrismRunner']\n", "may not choose the runner"),
        ("- a\n- b\n", "top level must be a mapping of sections, got list"),
        ("run: [unclosed\n", "not valid YAML at line 2"),
    ],
)
def test_bad_config_is_one_line_error_naming_file_and_key(tmp_path, text, expected):
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: ")
    assert expected in message
    assert "\n" not in message


def test_overrides_apply_and_are_checked(tmp_path):
    path = _write(tmp_path, "run:\n  rows_per_shard: 1\n")
    assert load_config(path, ["run.rows_per_shard=5", "runner.kind=multi_process"]).run.rows_per_shard == 5
    with pytest.raises(ConfigError, match=r"^override of .*unknown key 'run.rows'"):
        load_config(path, ["run.rows=5"])
    with pytest.raises(ConfigError, match="is not KEY=VALUE"):
        load_config(path, ["run.rows_per_shard"])


def test_nested_generic_types_are_converted():
    @dataclass
    class Inner:
        box: tuple[int, int] = (0, 0)

    @dataclass
    class Outer:
        ratio: float = 0.5
        mix: dict[str, float] = field(default_factory=dict)
        inner: Inner = field(default_factory=Inner)
        maybe: int | None = None

    cfg = build(
        Outer, {"ratio": 1, "mix": {"a": 2}, "inner": {"box": [3, 4]}, "maybe": None}, source="x.yaml"
    )
    assert cfg == Outer(1.0, {"a": 2.0}, Inner((3, 4)), None)
    with pytest.raises(ConfigError, match=r"'inner.box' must have 2 items, got 3"):
        build(Outer, {"inner": {"box": [1, 2, 3]}}, source="x.yaml")
    with pytest.raises(ConfigError, match=r"'mix.a' must be float"):
        build(Outer, {"mix": {"a": "x"}}, source="x.yaml")


def test_config_hash_follows_content():
    assert config_hash(load_config(None)) == config_hash(load_config(None))
    assert config_hash(load_config(None)) != config_hash(load_config(None, ["run.rows_per_shard=1"]))


def test_runner_is_always_named():
    assert beam_args(load_config(None).runner) == ["--runner=FnApiRunner"]
    multi = load_config(None, ["runner.kind=multi_process", "runner.workers=2"]).runner
    assert beam_args(multi) == [
        "--runner=FnApiRunner",
        "--direct_num_workers=2",
        "--direct_running_mode=multi_processing",
    ]
    portable = load_config(None, ["runner.kind=portable", "runner.job_endpoint=localhost:8099"]).runner
    assert beam_args(portable)[:2] == ["--runner=PortableRunner", "--job_endpoint=localhost:8099"]


def _beam(*args, cwd=ROOT):
    exe = Path(sys.executable).with_name("beam")
    return subprocess.run([str(exe), *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_beam_cli_rejects_bad_key_before_any_work(tmp_path):
    path = _write(tmp_path, "run:\n  rows_per_shardd: 1\n")
    marker = tmp_path / "imported"
    pipeline = tmp_path / "pipe.py"
    pipeline.write_text(f"open({str(marker)!r}, 'w').close()\ndef run(config):\n    return 0\n")
    proc = _beam("run", str(pipeline), "--config", str(path))
    assert proc.returncode == 2
    assert (
        proc.stderr.strip()
        == f"beam: config error: {path}: unknown key 'run.rows_per_shardd' (did you mean 'rows_per_shard'?)"
    )
    assert not marker.exists()  # the pipeline file was never imported


def test_beam_cli_runs_pipeline_file_with_config(tmp_path):
    path = _write(tmp_path, "run:\n  rows_per_shard: 3\n")
    out = tmp_path / "seen"
    pipeline = tmp_path / "pipe.py"
    pipeline.write_text(
        f"def run(config):\n    open({str(out)!r}, 'w').write(str(config.run.rows_per_shard))\n    return 0\n"
    )
    proc = _beam("run", str(pipeline), "--config", str(path), "run.rows_per_shard=9")
    assert proc.returncode == 0, proc.stderr
    assert out.read_text() == "9"
