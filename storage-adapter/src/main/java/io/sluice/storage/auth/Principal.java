package io.sluice.storage.auth;

import io.sluice.config.Tier;

/** Who a valid API key speaks for: a tenant and its tier. */
public record Principal(String tenant, Tier tier) {
}
