package io.sluice.storage.links;

import java.time.Instant;

/** A short link. {@code expiresAt} is null for a link that never expires. */
public record Link(String code, String tenant, String target, int redirect, Instant expiresAt, Instant createdAt,
                   Instant updatedAt) {

    public boolean expiredAt(Instant now) {
        return expiresAt != null && !expiresAt.isAfter(now);
    }
}
