"""The contract's demo identities: four institutions with public test secrets (``serve --demo``).

Invariant: these are the contract's published test values, never for production; the application layer turns
them into institution records, the tools sign sample requests with them.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEMO_IDENTITIES", "DemoIdentity"]


@dataclass(frozen=True, slots=True)
class DemoIdentity:
    id: str
    name: str
    sector: int
    secret: str


# Contract, "Demo identities".
DEMO_IDENTITIES: tuple[DemoIdentity, ...] = (
    DemoIdentity("0212345668", "OCMW Demostad", 17, "demo-ocmw-a"),
    DemoIdentity("0212345767", "OCMW Voorbeeldgem", 17, "demo-ocmw-b"),
    DemoIdentity("0212345866", "Kinderbijslagfonds Demo", 7, "demo-family-c"),
    DemoIdentity("0212345965", "Arbeidsbemiddeling Demo", 18, "demo-employment-d"),
)
