"""Every claim `toylab theory` checks, topic by topic (the order of its table)."""

from __future__ import annotations

from theory import absorption, circles, clock, compatible, gram, projections, random_vectors, sparse_recovery, superposition

TOPICS = {
    "random vectors": random_vectors.CLAIMS + projections.CLAIMS,
    "sparse recovery": sparse_recovery.CLAIMS,
    "superposition": superposition.CLAIMS,
    "Gram matrices": gram.CLAIMS,
    "circle vs dictionary": circles.CLAIMS,
    "modular clock": clock.CLAIMS,
    "absorption": absorption.CLAIMS,
    "compatible structures": compatible.CLAIMS,
}

CLAIMS = [claim for claims in TOPICS.values() for claim in claims]
BY_ID = {claim.id: claim for claim in CLAIMS}
assert len(BY_ID) == len(CLAIMS), "claim ids must be unique"
