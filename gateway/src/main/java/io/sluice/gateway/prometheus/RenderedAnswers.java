package io.sluice.gateway.prometheus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.ByteBufAllocator;
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
 */
final class RenderedAnswers {

    private final Cache<PromqlResult, byte[]> bodies;

    /** @param maxBytes {@code query.cache-max-bytes} */
    RenderedAnswers(long maxBytes) {
        this.bodies = Caffeine.newBuilder().weakKeys().maximumWeight(maxBytes)
                .weigher((PromqlResult answer, byte[] body) -> body.length)
                .executor(Runnable::run) // eviction on the caller's thread: no pool threads of its own
                .build();
    }

    /**
     * The success document of {@code answer}; the caller owns what comes back. With {@code keep} (the answer came
     * from the query cache) the body is kept for the next request of the same answer: a query asked once is not
     * copied into this cache at all (a 5 MB answer computed on every request would only churn it), one asked again
     * is rendered once more and then served as it is.
     */
    ByteBuf body(PromqlResult answer, ByteBufAllocator alloc, boolean keep) {
        byte[] body = bodies.getIfPresent(answer);
        if (body != null) {
            return Unpooled.wrappedBuffer(body); // read only by the response's write: the array is never changed
        }
        ByteBuf rendered = Json.write(alloc,
                json -> PrometheusJson.success(json, data -> PrometheusJson.result(data, answer)));
        if (keep) {
            bodies.put(answer, ByteBufUtil.getBytes(rendered));
        }
        return rendered;
    }

    /** Bodies kept now (tests). */
    long size() {
        bodies.cleanUp();
        return bodies.estimatedSize();
    }
}
