package io.sluice.gateway.links;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import io.sluice.config.ConfigLoader;
import io.sluice.config.LinksConfig;
import io.sluice.config.Tier;
import io.sluice.gateway.auth.KeysCommand;
import io.sluice.embedded.FrozenProcesses;
import io.sluice.storage.testing.MutableClock;
import io.sluice.storage.auth.ApiKeyStore;
import io.sluice.storage.links.Link;
import io.sluice.storage.links.LinkStore;
import io.sluice.storage.testing.RealInfrastructure;
import io.sluice.storage.testing.TestInfrastructure;
import io.netty.channel.DefaultEventLoop;
import io.netty.util.concurrent.EventExecutor;
import org.junit.jupiter.api.Test;
import reactor.core.scheduler.Schedulers;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

/** The redirect cache's clock-driven expiry and stale-if-error, on real PostgreSQL. */
@RealInfrastructure
class RedirectCacheTest {

    @Test
    void aLinkPastItsTtlIsServedStaleWhilePostgresIsDown(TestInfrastructure infra) {
        Cached c = Cached.link(infra, "stale");
        c.clock.advance(Duration.ofMinutes(2)); // past links.cache-ttl: the next get reloads
        infra.postgres().stop();
        try {
            assertThat(c.cache.get(c.code).join().link().target()).as("stale-if-error").isEqualTo(c.target);
            assertThat(c.cache.get("never-" + c.code)).as("an unknown code has nothing stale")
                    .failsWithin(Duration.ofSeconds(10));
        } finally {
            infra.postgres().start();
        }
    }

    @Test
    void aLinkInSteadyUseIsServedAtOnceWhileItIsLoadedAgainFromAFrozenPostgres(TestInfrastructure infra) {
        Cached c = Cached.link(infra, "hot");
        c.clock.advance(Duration.ofSeconds(61)); // expired a second ago: the next get loads it again
        try (FrozenProcesses frozen = FrozenProcesses.postgres(infra.postgres())) {
            CompletableFuture<RedirectCache.Entry> during = c.cache.get(c.code);
            assertThat(during).as("not waiting for the load").isCompleted();
            assertThat(during.join().link().target()).isEqualTo(c.target);
        }
    }

    @Test
    void aCodeALoadFoundGoneIsNotServedFromWhatWasKnownBefore(TestInfrastructure infra) {
        Cached c = Cached.link(infra, "gone", "0s");
        // deleted where this node did not hear of it (no invalidate): the next load after the TTL finds it gone
        assertThat(c.store.delete(c.tenant, c.code).block(Duration.ofSeconds(10))).isTrue();
        c.clock.advance(Duration.ofSeconds(61));
        await().atMost(Duration.ofSeconds(10)).untilAsserted(() -> assertThat(c.cache.get(c.code).join().link()).isNull());
        await().atMost(Duration.ofSeconds(5)).until(() -> !c.cache.caches(c.code)); // that verdict expired (0 s)
        infra.postgres().stop();
        try {
            assertThat(c.cache.get(c.code)).as("nothing to fall back on").failsWithin(Duration.ofSeconds(10));
        } finally {
            infra.postgres().start();
        }
    }

    @Test
    void theBreakerCountsALoadOffTheEventLoops(TestInfrastructure infra) {
        LinkStore store = new LinkStore(infra.connectionFactory());
        RedirectCache cache = new RedirectCache(store, ConfigLoader.load(null, Map.of(), Map.of()).links(),
                new MutableClock(Instant.now()), new SimpleMeterRegistry());
        List<Boolean> onEventLoop = new CopyOnWriteArrayList<>();
        cache.breaker().getEventPublisher().onSuccess(e -> onEventLoop.add(Schedulers.isInNonBlockingThread()));
        assertThat(cache.get("none-" + UUID.randomUUID()).join().link()).as("loaded: no such code").isNull();
        // the load completes on the PostgreSQL connection's event loop; the breaker's window takes a lock
        assertThat(onEventLoop).containsExactly(false);
    }

    @Test
    void aLinkCreatedHereIsServedWithoutALookup(TestInfrastructure infra) {
        String tenant = newTenant(infra);
        LinkStore store = new LinkStore(infra.connectionFactory());
        String code = "new-" + UUID.randomUUID().toString().substring(0, 8);
        RedirectCache cache = new RedirectCache(store, ConfigLoader.load(null, Map.of(), Map.of()).links(),
                new MutableClock(Instant.now()), new SimpleMeterRegistry());
        assertThat(cache.get(code).join().link()).as("not there yet").isNull();
        Link created = store.insert(code, tenant, "https://example.com/new", 302, null).block(Duration.ofSeconds(10));
        cache.created(created);
        infra.postgres().stop();
        try {
            assertThat(cache.get(code)).isCompleted();
            assertThat(cache.get(code).join().link().target()).isEqualTo("https://example.com/new");
        } finally {
            infra.postgres().start();
        }
    }

    @Test
    void whatAnEventLoopKeptIsVoidOnceALinkChanges(TestInfrastructure infra) throws Exception {
        String tenant = newTenant(infra);
        LinkStore store = new LinkStore(infra.connectionFactory());
        String code = "kept-" + UUID.randomUUID().toString().substring(0, 8);
        store.insert(code, tenant, "https://example.com/before", 302, null).block(Duration.ofSeconds(10));
        // links.negative-ttl 0: an unknown code may not be kept either
        LinksConfig config = ConfigLoader.load(null, Map.of(), Map.of("links.negative-ttl", "0s")).links();
        RedirectCache cache = new RedirectCache(store, config, new MutableClock(Instant.now()), new SimpleMeterRegistry());
        // a real event loop: a plain executor's idle worker parks in its queue, which BlockHound refuses on a
        // FastThreadLocalThread; the refusal surfaced as IllegalMonitorStateException and a respawning worker
        EventExecutor loop = new DefaultEventLoop();
        try {
            assertThat(onLoop(loop, cache, code).link().target()).isEqualTo("https://example.com/before");
            assertThat(onLoop(loop, cache, code).link().target()).isEqualTo("https://example.com/before");
            store.update(tenant, code, "https://example.com/after", null, null, false).block(Duration.ofSeconds(10));
            cache.invalidate(code); // what LinkInvalidation does on every node for an update anywhere
            assertThat(onLoop(loop, cache, code).link().target()).isEqualTo("https://example.com/after");

            String unknown = "none-" + code;
            assertThat(onLoop(loop, cache, unknown).link()).isNull();
            await().atMost(Duration.ofSeconds(5)).until(() -> !cache.caches(unknown)); // timed: negative-ttl 0
            store.insert(unknown, tenant, "https://example.com/late", 302, null).block(Duration.ofSeconds(10));
            assertThat(onLoop(loop, cache, unknown).link()).as("not kept as unknown").isNotNull();
        } finally {
            loop.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
        assertThat(cache.stats().hitCount()).as("a kept answer counts as a hit").isPositive();
    }

    /**
     * A link of a tenant of its own, {@code https://example.com/NAME}, behind a cache with {@code links.cache-ttl} 1m
     * (and {@code links.negative-ttl} when given) on a clock of its own, loaded into it once.
     */
    private record Cached(String tenant, LinkStore store, String code, String target, MutableClock clock,
                          RedirectCache cache) {
        static Cached link(TestInfrastructure infra, String name) {
            return link(infra, name, null);
        }

        static Cached link(TestInfrastructure infra, String name, String negativeTtl) {
            String tenant = newTenant(infra);
            LinkStore store = new LinkStore(infra.connectionFactory());
            String code = name + "-" + UUID.randomUUID().toString().substring(0, 8);
            String target = "https://example.com/" + name;
            store.insert(code, tenant, target, 302, null).block(Duration.ofSeconds(10));
            Map<String, String> settings = negativeTtl == null ? Map.of("links.cache-ttl", "1m")
                    : Map.of("links.cache-ttl", "1m", "links.negative-ttl", negativeTtl);
            LinksConfig config = ConfigLoader.load(null, Map.of(), settings).links();
            MutableClock clock = new MutableClock(Instant.now());
            RedirectCache cache = new RedirectCache(store, config, clock, new SimpleMeterRegistry());
            assertThat(cache.get(code).join().link().target()).isEqualTo(target);
            return new Cached(tenant, store, code, target, clock, cache);
        }
    }

    /** A free-tier tenant of its own, for links to belong to. */
    private static String newTenant(TestInfrastructure infra) {
        String tenant = "rc-" + UUID.randomUUID().toString().substring(0, 8);
        KeysCommand.create(new ApiKeyStore(infra.connectionFactory()), tenant, Tier.FREE);
        return tenant;
    }

    private static RedirectCache.Entry onLoop(EventExecutor loop, RedirectCache cache, String code) throws Exception {
        return loop.submit(() -> cache.get(code)).get(10, TimeUnit.SECONDS).get(10, TimeUnit.SECONDS);
    }

    @Test
    void aLinkExpiringSoonLeavesTheCacheWhenItExpires(TestInfrastructure infra) {
        String tenant = newTenant(infra);
        LinkStore store = new LinkStore(infra.connectionFactory());
        MutableClock clock = new MutableClock(Instant.now());
        String code = "soon-" + UUID.randomUUID().toString().substring(0, 8);
        store.insert(code, tenant, "https://example.com/soon", 302, clock.instant().plusSeconds(30)).block(Duration.ofSeconds(10));
        store.insert("far-" + code, tenant, "https://example.com/far", 302, Instant.parse("2900-01-01T00:00:00Z"))
                .block(Duration.ofSeconds(10));
        LinksConfig config = ConfigLoader.load(null, Map.of(), Map.of()).links();
        RedirectCache cache = new RedirectCache(store, config, clock, new SimpleMeterRegistry());

        assertThat(cache.get(code).join().link().expiredAt(clock.instant())).isFalse();
        assertThat(cache.get("far-" + code).join().link()).as("a far-future expiry does not overflow").isNotNull();
        clock.advance(Duration.ofSeconds(31));
        assertThat(cache.get(code).join().link().expiredAt(clock.instant())).as("reloaded, now expired: 410").isTrue();
    }
}
