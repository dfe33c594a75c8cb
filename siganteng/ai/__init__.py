"""Provider adapters shared by every app: LLM chat, embeddings, speech.

One module a provider, chosen through :mod:`siganteng.ai.registry`; call sites never
check a provider's name.
"""
