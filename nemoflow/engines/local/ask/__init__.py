"""`ask` on the local engine: plain-language instructions carried out deterministically.

intents.py holds the contract; numerals, builders, vocabulary and scanner the words (English and Chinese),
understand.py an ask step's intents or the error naming the words it could
not map, analysis.py and footage.py measure the footage (shake, black,
freezes, silence, levels), apply.py turns intents into Draft operations.
"""

# Part of an ask step's cache key: bump it when the same instruction would edit differently.
ASK_REVISION = 1
