"""Test configuration for the whole checkout: doctests of missing extras skipped, Hypothesis derandomized.

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

try:  # every property test draws the same examples on every machine and run (no example database)
    from hypothesis import settings

    settings.register_profile("hiergrid", derandomize=True, database=None)
    settings.load_profile("hiergrid")
except ImportError:  # a core install without the test extra
    pass
