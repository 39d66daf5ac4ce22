package io.sluice.gateway.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.TenantsConfig;
import io.sluice.config.Tier;
import io.sluice.storage.auth.Principal;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;

/**
 * Per-tenant token buckets (Bucket4j), one for API requests and one for ingested items, sized per minute
 * by the tenant's tier ({@code tenants.<tier>.requests-per-minute}, {@code …items-per-minute}). Buckets
 * live in a bounded Caffeine cache and read time from the injected {@link TimeMeter}, so tests drive time.
 * Each refusal is counted as {@code sluice_ratelimit_rejected_total{kind,tier}}.
 */
public final class TenantRateLimiter {

    /** Most tenants whose buckets are kept; idle ones are evicted and start full again. */
    public static final long MAX_TENANTS = 100_000;

    /** What a bucket limits. */
    public enum Kind {
        REQUESTS, ITEMS
    }

    private record Key(String tenant, Kind kind) {
    }

    private final TenantsConfig tenants;
    private final TimeMeter clock;
    private final Cache<Key, Bucket> buckets;
    private final Map<Kind, Map<Tier, Counter>> rejected = new EnumMap<>(Kind.class);

    public TenantRateLimiter(TenantsConfig tenants, TimeMeter clock, MeterRegistry registry) {
        this.tenants = tenants;
        this.clock = clock;
        this.buckets = Caffeine.newBuilder().maximumSize(MAX_TENANTS).expireAfterAccess(Duration.ofMinutes(10)).build();
        for (Kind kind : Kind.values()) {
            Map<Tier, Counter> byTier = new EnumMap<>(Tier.class);
            for (Tier tier : Tier.values()) {
                byTier.put(tier, Counter.builder("sluice_ratelimit_rejected")
                        .description("Requests or items refused by a tenant's token bucket")
                        .tag("kind", kind.name().toLowerCase(Locale.ROOT))
                        .tag("tier", tier.name().toLowerCase(Locale.ROOT))
                        .register(registry));
            }
            rejected.put(kind, byTier);
        }
    }

    /** Takes {@code tokens} from the tenant's bucket of that kind, or refuses without taking any. */
    public RateLimitDecision tryConsume(Principal principal, Kind kind, long tokens) {
        long perMinute = limit(principal.tier(), kind);
        Bucket bucket = buckets.get(new Key(principal.tenant(), kind), k -> Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                .withCustomTimePrecision(clock)
                .build());
        ConsumptionProbe probe = bucket.tryConsumeAndReturnRemaining(tokens);
        if (!probe.isConsumed()) {
            rejected.get(kind).get(principal.tier()).increment();
        }
        return new RateLimitDecision(probe.isConsumed(), perMinute, probe.getRemainingTokens(),
                probe.getNanosToWaitForRefill(), probe.getNanosToWaitForReset(), tokens > perMinute);
    }

    private long limit(Tier tier, Kind kind) {
        TenantsConfig.Quota quota = tenants.quota(tier);
        return kind == Kind.REQUESTS ? quota.requestsPerMinute() : quota.itemsPerMinute();
    }
}
