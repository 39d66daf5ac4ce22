package io.sluice.config;

import java.util.EnumMap;
import java.util.Map;

/** Per-tier quotas for tenants. */
public record TenantsConfig(Map<Tier, Quota> quotas) {

    /** A tier's budget: API requests and ingested items (samples plus events), each per minute. */
    public record Quota(long requestsPerMinute, long itemsPerMinute) {
    }

    public TenantsConfig {
        EnumMap<Tier, Quota> copy = new EnumMap<>(Tier.class);
        copy.putAll(quotas);
        for (Tier tier : Tier.values()) {
            if (!copy.containsKey(tier)) {
                throw new IllegalArgumentException("tenants: no quota for tier " + tier);
            }
        }
        quotas = Map.copyOf(copy);
    }

    public Quota quota(Tier tier) {
        return quotas.get(tier);
    }
}
