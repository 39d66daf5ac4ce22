package io.sluice.gateway.prometheus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.ByteBufAllocator;
import io.netty.util.IllegalReferenceCountException;
import io.sluice.gateway.http.Json;
import io.sluice.storage.promql.PromqlResult;

/**
 * PromQL answers rendered as Prometheus' JSON once, not once a request: the query cache hands out the same
 * {@link PromqlResult} for every hit until the answer is invalidated or evicted, and this keeps that object's
 * response body beside it, keyed by identity (weak keys). An answer recomputed after an invalidation is a new
 * object, so it never gets an older answer's bytes; once the query cache lets an answer go, its bytes go too.
 * Rendering a large answer (100 series of 1,441 points, 5 MB) took most of a cached request's time.
 *
 * <p>Only answers served from the query cache are kept (see {@link #body}). At most {@code query.cache-max-bytes} of
 * bodies are kept (weighed by their length), least recently used first
 * out. Rendering runs outside the cache's locks: two requests that miss at once may both render, and one body is
 * kept.
 *
 * <p>Kept bodies live in direct memory, each response a retained view of it: a heap body would be copied into a new
 * direct buffer by the socket write of every response (for 5 MB, an allocation outside the pools and a copy each
 * time). A body leaves the cache by eviction, replacement or its answer being collected, and is freed when the last
 * response still writing it is done.
 */
final class RenderedAnswers {

    private final Cache<PromqlResult, ByteBuf> bodies;

    /** @param maxBytes {@code query.cache-max-bytes} */
    RenderedAnswers(long maxBytes) {
        this.bodies = Caffeine.newBuilder().weakKeys().maximumWeight(maxBytes)
                .weigher((PromqlResult answer, ByteBuf body) -> body.readableBytes())
                .removalListener((PromqlResult answer, ByteBuf body, RemovalCause cause) -> {
                    if (body != null) {
                        body.release();
                    }
                })
                .executor(Runnable::run) // eviction on the caller's thread: no pool threads of its own
                .build();
    }

    /**
     * The success document of {@code answer}; the caller owns what comes back (a retained view when the body is
     * kept). With {@code keep} (the answer came from the query cache) the body is kept for the next request of the
     * same answer: a query asked once is not copied into this cache at all (a 5 MB answer computed on every request
     * would only churn it), one asked again is rendered once more and then served as it is.
     */
    ByteBuf body(PromqlResult answer, ByteBufAllocator alloc, boolean keep) {
        ByteBuf kept = bodies.getIfPresent(answer);
        if (kept != null) {
            try {
                return kept.retainedDuplicate(); // read only by the response's write: the bytes never change
            } catch (IllegalReferenceCountException evictedMeanwhile) {
                // freed between the lookup and the retain: rendered again below
            }
        }
        ByteBuf rendered = Json.write(alloc,
                json -> PrometheusJson.success(json, data -> PrometheusJson.result(data, answer)));
        if (keep) {
            ByteBuf copy = Unpooled.directBuffer(rendered.readableBytes());
            copy.writeBytes(rendered, rendered.readerIndex(), rendered.readableBytes());
            bodies.put(answer, copy);
        }
        return rendered;
    }

    /** Bodies kept now (tests). */
    long size() {
        bodies.cleanUp();
        return bodies.estimatedSize();
    }

    /** Drops (and frees) every kept body: when the gateway stops. */
    void clear() {
        bodies.invalidateAll();
        bodies.cleanUp();
    }
}
