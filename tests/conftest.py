"""Test-wide settings.

Property tests run derandomized: the build is the same on every run (a failure found
while developing becomes an ``@example``), so a random draw never decides whether work
lands. ``HYPOTHESIS_PROFILE=explore`` searches with fresh random inputs instead.
The kit's per-user cache is the session's own (``RELIEF_KIT_CACHE_DIR``).
"""

import atexit
import os
import shutil
import tempfile

from hypothesis import settings

settings.register_profile("ci", derandomize=True)
settings.register_profile("explore", derandomize=False)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# The kit's per-user cache (the batch's compiled templates) in a folder of this test
# session, not the user's: every session starts without one, as a new machine does.
_CACHE = tempfile.mkdtemp(prefix="relief-kit-test-cache-")
os.environ["RELIEF_KIT_CACHE_DIR"] = os.path.join(_CACHE, "relief-kit")
atexit.register(shutil.rmtree, _CACHE, True)
