"""Groq endpoints beyond chat, under the same keys, policy, limits, budgets and ledger.

* :mod:`.audio` — ``audio/transcriptions`` and ``audio/translations`` (priced per audio hour)
* :mod:`.speech` — ``audio/speech`` (priced per character, only when the operator prices it)
* :mod:`.files`, :mod:`.batches` — the Files and Batch APIs, owned per team
* :mod:`.responses` — the Responses API, capped and charged like chat
* :mod:`.embeddings` — embeddings of allowed, priced models

:func:`teamgate.endpoints.routes.route_beyond_chat` is the one entry point the app calls.
"""
