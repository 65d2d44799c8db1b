"""Test-wide settings.

Property tests run derandomized: the build is the same on every run (a failure found
while developing becomes an ``@example``), so a random draw never decides whether work
lands. ``HYPOTHESIS_PROFILE=explore`` searches with fresh random inputs instead.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
