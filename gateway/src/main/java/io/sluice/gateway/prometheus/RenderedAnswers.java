package io.sluice.gateway.prometheus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.sluice.gateway.http.Json;
import io.sluice.storage.promql.PromqlResult;

/**
 * PromQL answers rendered as Prometheus' JSON once, not once a request: the query cache hands out the same
 * {@link PromqlResult} for every hit until the answer is invalidated or evicted, and this keeps that object's
 * response body beside it, keyed by identity (weak keys). An answer recomputed after an invalidation is a new
 * object, so it never gets an older answer's bytes; once the query cache lets an answer go, its bytes go too.
 * Rendering a large answer (100 series of 1,441 points, 5 MB) took most of a cached request's time.
 *
 * <p>At most {@code query.cache-max-bytes} of bodies are kept (weighed by their length), least recently used first
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

    /** The success document of {@code answer}: kept for the next request of the same answer. */
    ByteBuf body(PromqlResult answer) {
        byte[] body = bodies.getIfPresent(answer);
        if (body == null) {
            ByteBuf rendered = Json.write(UnpooledByteBufAllocator.DEFAULT,
                    json -> PrometheusJson.success(json, data -> PrometheusJson.result(data, answer)));
            try {
                body = ByteBufUtil.getBytes(rendered);
            } finally {
                rendered.release();
            }
            bodies.put(answer, body);
        }
        return Unpooled.wrappedBuffer(body); // read only by the response's write: the array is never changed
    }

    /** Bodies kept now (tests). */
    long size() {
        bodies.cleanUp();
        return bodies.estimatedSize();
    }
}
