"""Training stage: SFT then GRPO-ATS on the pipelines' shards, and evaluation, all through the one agent loop.

Modules: ``config`` (TrainConfig), ``tiny_model`` (offline tiny LLaVA + BPE), ``policy`` (loading, image
adapters), ``chat`` (ChatML rendering and loss masks), ``data`` (streaming shards), ``sft``,
``policy_backend`` (a local ``Backend``; served models use ``synthesis.endpoint.backend``), ``rollouts``,
``rewards``, ``grpo_math``, ``grpo``, ``evaluate``, ``checkpoint``, ``metrics``; ``python train/run.py`` is
the entry point.
"""
