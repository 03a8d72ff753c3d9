"""Test doubles shipped with nemoflow: a protocol-faithful fake of the NemoVideo cloud API (fake_nemo)."""
