"""The OpenAI-compatible teacher: one chat-completions client, its config, request layout, reply handling,
cache.

Import the module you need (``synthesis.endpoint.backend`` for :class:`OpenAIBackend`); this package
re-exports nothing, so ``synthesis.endpoint.errors`` and ``synthesis.endpoint.config`` load without the
``openai`` client.
"""
