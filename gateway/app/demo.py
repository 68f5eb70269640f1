"""The contract's demo identities: four institutions with public test secrets and the demo catalogue.

Invariant: ``ensure_demo`` is idempotent and only ever called for ``serve --demo``; afterwards the four demo
institutions exist, are enabled and have their published secrets, and sectors 7 and 18 have code 1.
"""

from __future__ import annotations

from gateway.app.ports import InstitutionRecord, Store
from gateway.domain.catalogue import DEMO_CATALOGUE_FILE, load_catalogue
from gateway.domain.demo import DEMO_IDENTITIES

__all__ = ["DEMO_INSTITUTIONS", "ensure_demo"]

# Contract, "Demo identities": public test values, never for production.
DEMO_INSTITUTIONS: tuple[InstitutionRecord, ...] = tuple(
    InstitutionRecord(demo.id, demo.name, demo.sector, demo.secret) for demo in DEMO_IDENTITIES
)


def ensure_demo(store: Store) -> tuple[InstitutionRecord, ...]:
    """Save the demo catalogue and make the demo institutions exist with their demo secrets, enabled."""
    store.save_catalogue(load_catalogue((DEMO_CATALOGUE_FILE,)))
    existing = {r.id: r for r in store.institutions()}
    for demo in DEMO_INSTITUTIONS:
        have = existing.get(demo.id)
        if have is None:
            store.add_institution(demo)
            continue
        if have.secret != demo.secret:
            store.set_secret(demo.id, demo.secret)
        if not have.enabled:
            store.set_enabled(demo.id, True)
    return DEMO_INSTITUTIONS
