"""Doctest collection (``--doctest-modules``) imports every module of the portal, and Django's
models need configured settings: configure them (in-memory SQLite) unless the test suite has
done so already. Nothing else happens here."""

from evaluation.portal.settings import configure

configure(None, fast_hashing=True)
