"""Doctest collection of the library: modules of an extra that is not installed are skipped.

``pytest`` collects ``hierarchy/`` for doctests (``--doctest-modules``); the
Gymnasium and mosaik adapters import their packages, which a core install
(``pip install -e ".[test]"``) does not have. Their tests skip themselves
(``pytest.importorskip``).
"""
from importlib.util import find_spec


def _missing(package: str) -> bool:
    try:
        return find_spec(package) is None
    except (ImportError, ValueError):
        return True


collect_ignore = []
if _missing("gymnasium"):
    collect_ignore += ["hierarchy/gym_env.py", "hierarchy/coupling/gym_env.py"]
if _missing("mosaik_api_v3"):
    collect_ignore += ["hierarchy/coupling/mosaik_sim.py"]
