package io.sluice.gateway.ratelimit;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.github.bucket4j.Bucket;
import io.github.bucket4j.BucketConfiguration;
import io.github.bucket4j.ConsumptionProbe;
import io.github.bucket4j.TimeMeter;
import io.github.bucket4j.TokensInheritanceStrategy;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import io.sluice.config.TenantsConfig;
import io.sluice.config.Tier;
import io.sluice.storage.auth.Principal;

import java.time.Duration;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.IntSupplier;

/**
 * Per-tenant token buckets (Bucket4j), one for API requests and one for ingested items, sized per minute
 * by the tenant's tier ({@code tenants.<tier>.requests-per-minute}, {@code …items-per-minute}). Buckets
 * live in a bounded Caffeine cache and read time from the injected {@link TimeMeter}, so tests drive time.
 * Each refusal is counted as {@code sluice_ratelimit_rejected_total{kind,tier}}.
 *
 * <p>A tier is a cluster-wide budget: with {@code n} live gateways (the cluster heartbeat's count) each enforces
 * {@link #share(long, int) ⌈tier / n⌉}. When {@code n} changes, a tenant's bucket is resized at its next use,
 * keeping the same fraction of its tokens ({@link TokensInheritanceStrategy#PROPORTIONALLY}): a full bucket stays
 * full, an empty one stays empty.
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

    /** A tenant's bucket and the per-minute limit it was last configured with. */
    private static final class Entry {
        final Bucket bucket;
        volatile long perMinute;

        Entry(Bucket bucket, long perMinute) {
            this.bucket = bucket;
            this.perMinute = perMinute;
        }
    }

    private final TenantsConfig tenants;
    private final TimeMeter clock;
    private final IntSupplier liveGateways;
    private final Cache<Key, Entry> buckets;
    private final Map<Kind, Map<Tier, Counter>> rejected = new EnumMap<>(Kind.class);

    /** A limiter for a gateway that is the only one: each tenant gets its whole tier here. */
    public TenantRateLimiter(TenantsConfig tenants, TimeMeter clock, MeterRegistry registry) {
        this(tenants, clock, () -> 1, registry);
    }

    /**
     * @param liveGateways how many gateways share each tier (this one included), read at every decision; the
     *                     cluster heartbeat's count
     */
    public TenantRateLimiter(TenantsConfig tenants, TimeMeter clock, IntSupplier liveGateways, MeterRegistry registry) {
        this.tenants = tenants;
        this.clock = clock;
        this.liveGateways = liveGateways;
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
        long perMinute = share(limit(principal.tier(), kind), liveGateways.getAsInt());
        Entry entry = buckets.get(new Key(principal.tenant(), kind), k -> new Entry(Bucket.builder()
                .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                .withCustomTimePrecision(clock)
                .build(), perMinute));
        if (entry.perMinute != perMinute) {
            resize(entry, perMinute);
        }
        ConsumptionProbe probe = entry.bucket.tryConsumeAndReturnRemaining(tokens);
        if (!probe.isConsumed()) {
            rejected.get(kind).get(principal.tier()).increment();
        }
        return new RateLimitDecision(probe.isConsumed(), perMinute, probe.getRemainingTokens(),
                probe.getNanosToWaitForRefill(), probe.getNanosToWaitForReset(), tokens > perMinute);
    }

    /**
     * This gateway's part of a cluster-wide per-minute budget when {@code gateways} share it: rounded up, so the
     * gateways together never enforce less than the tier, and at least 1.
     */
    public static long share(long perMinute, int gateways) {
        int n = Math.max(1, gateways);
        return Math.max(1, (perMinute + n - 1) / n);
    }

    /** Rare (the live count or the tenant's tier changed), so one lock per bucket keeps limit and config in step. */
    private static void resize(Entry entry, long perMinute) {
        synchronized (entry) {
            if (entry.perMinute != perMinute) {
                entry.bucket.replaceConfiguration(BucketConfiguration.builder()
                        .addLimit(limit -> limit.capacity(perMinute).refillGreedy(perMinute, Duration.ofMinutes(1)))
                        .build(), TokensInheritanceStrategy.PROPORTIONALLY);
                entry.perMinute = perMinute;
            }
        }
    }

    private long limit(Tier tier, Kind kind) {
        TenantsConfig.Quota quota = tenants.quota(tier);
        return kind == Kind.REQUESTS ? quota.requestsPerMinute() : quota.itemsPerMinute();
    }
}
