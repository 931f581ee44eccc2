"""Run configuration shared by every entry point, outside the data-flow packages.

* :mod:`runconfig.typed`: the strict YAML-to-dataclass loader (``build``, ``ConfigError`` with its "did you
  mean" line, ``apply_override``, ``to_dict``, ``config_hash``). Imports nothing of this project.
* :mod:`runconfig.keys`: the one reader of API keys from the environment. Imports nothing of this project.
* :mod:`runconfig.root`: :class:`~runconfig.root.PipelineConfig`, every section of ``pipeline.yaml`` composed,
  and :func:`~runconfig.root.load_config`. It imports every package's config, so only entry points import it:
  the ``beam`` command (``pipelines/cli.py``), the pipeline files (``pipelines/build_*.py``) and
  ``train/run.py``.

This ``__init__`` imports nothing, so importing :mod:`runconfig.typed` never loads the root composition.
"""
