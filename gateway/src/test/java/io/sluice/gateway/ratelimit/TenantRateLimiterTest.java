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
}
