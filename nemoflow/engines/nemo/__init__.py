"""The nemo engine: recipes rendered on the NemoVideo cloud API (contract: ../shared/nemo-api.md, constants: contract.py)."""
