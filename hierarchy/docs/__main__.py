"""``python -m hierarchy.docs [--check] [--out PATH]`` (:func:`hierarchy.docs.reference.main`)."""
import sys

from hierarchy.docs.reference import main

sys.exit(main())
