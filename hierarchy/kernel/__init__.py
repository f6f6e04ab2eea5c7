"""What the engine is made of, with no physics and no tier in it.

* :mod:`~hierarchy.kernel.clock`: simulation time in integer milliseconds
  and the one fixed order of processes at equal times;
* :mod:`~hierarchy.kernel.links`: communication links between tiers
  (latency, loss), the message trace;
* :mod:`~hierarchy.kernel.registry`: policies by short name or
  ``module:Class``, resolved lazily;
* :mod:`~hierarchy.kernel.durations`: durations with units (``15min``).

The messages the tiers exchange are :mod:`hierarchy.messages`, one level up:
they are the only part of :mod:`hierarchy` a tier imports.
"""
