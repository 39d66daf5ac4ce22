package io.sluice.gateway.ratelimit;

import io.github.bucket4j.TimeMeter;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.HttpHeaders;
import io.sluice.config.ConfigLoader;
import io.sluice.config.Tier;
import io.sluice.storage.auth.Principal;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.assertj.core.api.Assertions.assertThat;

class TenantRateLimiterTest {

    private final AtomicLong nanos = new AtomicLong();
    private final TimeMeter clock = new TimeMeter() {
        @Override
        public long currentTimeNanos() {
            return nanos.get();
        }

        @Override
        public boolean isWallClockBased() {
            return false;
        }
    };
    private final SimpleMeterRegistry registry = new SimpleMeterRegistry();
    private final TenantRateLimiter limiter = new TenantRateLimiter(
            ConfigLoader.load(null, Map.of(), Map.of()).tenants(), clock, registry);

    private final Principal free = new Principal("a", Tier.FREE);

    @Test
    void freeTierAllows100RequestsPerMinuteThenRefusesWithRetryAfter() {
        for (int i = 0; i < 100; i++) {
            assertThat(limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isTrue();
        }
        RateLimitDecision refused = limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1);
        assertThat(refused.allowed()).isFalse();
        assertThat(refused.limit()).isEqualTo(100);
        assertThat(refused.remaining()).isZero();
        assertThat(refused.retryAfterSeconds()).isEqualTo(1); // one token refills in 0.6 s
        assertThat(registry.get("sluice_ratelimit_rejected").tag("kind", "requests").tag("tier", "free")
                .counter().count()).isEqualTo(1);

        HttpHeaders headers = new DefaultHttpHeaders();
        refused.addHeaders(headers);
        assertThat(headers.get("Retry-After")).isEqualTo("1");
        assertThat(headers.get("RateLimit-Limit")).isEqualTo("100");
        assertThat(headers.get("RateLimit-Remaining")).isEqualTo("0");
        assertThat(headers.get("RateLimit-Reset")).isEqualTo("60");
    }

    @Test
    void tokensRefillAsTheInjectedClockAdvances() {
        for (int i = 0; i < 100; i++) {
            limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1);
        }
        assertThat(limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isFalse();
        nanos.addAndGet(Duration.ofSeconds(6).toNanos()); // 6 s = 10 tokens at 100/min
        for (int i = 0; i < 10; i++) {
            assertThat(limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isTrue();
        }
        assertThat(limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isFalse();
    }

    @Test
    void theHighestRateTheSettingsAcceptBuildsAWorkingBucket() {
        // Bucket4j refills at most one token per nanosecond; the settings' upper bound is exactly that
        String most = "60000000000";
        TenantRateLimiter unlimited = new TenantRateLimiter(ConfigLoader.load(null, Map.of(),
                Map.of("tenants.enterprise.requests-per-minute", most, "tenants.enterprise.items-per-minute", most))
                .tenants(), clock, registry);
        Principal big = new Principal("big", Tier.ENTERPRISE);
        assertThat(unlimited.tryConsume(big, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isTrue();
        assertThat(unlimited.tryConsume(big, TenantRateLimiter.Kind.ITEMS, 1_000_000).allowed()).isTrue();
    }

    @Test
    void tenantsAndKindsHaveSeparateBuckets() {
        for (int i = 0; i < 100; i++) {
            limiter.tryConsume(free, TenantRateLimiter.Kind.REQUESTS, 1);
        }
        assertThat(limiter.tryConsume(new Principal("b", Tier.FREE), TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isTrue();
        assertThat(limiter.tryConsume(free, TenantRateLimiter.Kind.ITEMS, 5_000).allowed()).isTrue();
    }

    @Test
    void aBatchLargerThanTheBucketNeverFits() {
        RateLimitDecision decision = limiter.tryConsume(free, TenantRateLimiter.Kind.ITEMS, 100_001);
        assertThat(decision.allowed()).isFalse();
        assertThat(decision.neverFits()).isTrue();
    }

    /** Takes single requests until refused; returns how many were allowed. */
    private static int drain(TenantRateLimiter limiter, Principal principal) {
        int allowed = 0;
        while (limiter.tryConsume(principal, TenantRateLimiter.Kind.REQUESTS, 1).allowed()) {
            allowed++;
        }
        return allowed;
    }

    @Test
    void eachGatewayEnforcesTheTierDividedByTheLiveGateways() {
        AtomicInteger gateways = new AtomicInteger(2);
        TenantRateLimiter shared = new TenantRateLimiter(ConfigLoader.load(null, Map.of(), Map.of()).tenants(), clock,
                gateways::get, registry);
        assertThat(drain(shared, new Principal("two", Tier.FREE))).isEqualTo(50);
        RateLimitDecision refused = shared.tryConsume(new Principal("two", Tier.FREE), TenantRateLimiter.Kind.REQUESTS, 1);
        assertThat(refused.limit()).as("RateLimit-Limit is this gateway's share").isEqualTo(50);
        nanos.addAndGet(Duration.ofSeconds(6).toNanos()); // 6 s = 5 tokens at 50/min
        assertThat(drain(shared, new Principal("two", Tier.FREE))).isEqualTo(5);

        gateways.set(3);
        assertThat(drain(shared, new Principal("three", Tier.FREE))).as("ceil(100 / 3)").isEqualTo(34);
        assertThat(shared.tryConsume(new Principal("three", Tier.FREE), TenantRateLimiter.Kind.ITEMS, 33_334).neverFits())
                .as("a batch over this gateway's share of the item tier").isFalse();
        assertThat(shared.tryConsume(new Principal("three", Tier.FREE), TenantRateLimiter.Kind.ITEMS, 33_335).neverFits())
                .isTrue();
    }

    @Test
    void whenTheLiveCountChangesABucketKeepsItsFractionOfTokensAndRefillsAtTheNewShare() {
        AtomicInteger gateways = new AtomicInteger(1);
        TenantRateLimiter shared = new TenantRateLimiter(ConfigLoader.load(null, Map.of(), Map.of()).tenants(), clock,
                gateways::get, registry);
        Principal tenant = new Principal("moving", Tier.FREE);
        for (int i = 0; i < 40; i++) {
            assertThat(shared.tryConsume(tenant, TenantRateLimiter.Kind.REQUESTS, 1).allowed()).isTrue();
        }
        // 60 of 100 left; a second gateway joins: 60 % of the new 50
        gateways.set(2);
        RateLimitDecision halved = shared.tryConsume(tenant, TenantRateLimiter.Kind.REQUESTS, 1);
        assertThat(halved.limit()).isEqualTo(50);
        assertThat(halved.remaining()).isEqualTo(30 - 1);
        // it leaves again: 29 of 50 become 58 of 100, and the bucket refills at 100/min
        gateways.set(1);
        RateLimitDecision whole = shared.tryConsume(tenant, TenantRateLimiter.Kind.REQUESTS, 1);
        assertThat(whole.limit()).isEqualTo(100);
        assertThat(whole.remaining()).isEqualTo(58 - 1);
        assertThat(drain(shared, tenant)).isEqualTo(57);
        nanos.addAndGet(Duration.ofSeconds(6).toNanos());
        assertThat(drain(shared, tenant)).as("6 s at 100/min").isEqualTo(10);
    }

    @Test
    void aShareIsRoundedUpAndNeverBelowOneNorAboveTheTier() {
        assertThat(TenantRateLimiter.share(100, 1)).isEqualTo(100);
        assertThat(TenantRateLimiter.share(100, 3)).isEqualTo(34);
        assertThat(TenantRateLimiter.share(100, 0)).as("no count yet: the whole tier, never more").isEqualTo(100);
        assertThat(TenantRateLimiter.share(1, 5)).isEqualTo(1);
        assertThat(TenantRateLimiter.share(60_000_000_000L, 7)).isEqualTo(8_571_428_572L);
    }
}
