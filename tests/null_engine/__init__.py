"""A third engine, written only against engines/base.py: it proves a new engine needs its own folder and one registration."""
