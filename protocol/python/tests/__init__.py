"""Tests of the Python client, run from the repository root with

    python3 -m unittest discover -s protocol/python/tests -t protocol/python
"""
