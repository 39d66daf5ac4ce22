package io.sluice.gateway.prometheus;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufOutputStream;
import io.netty.buffer.Unpooled;
import io.netty.util.IllegalReferenceCountException;
import io.sluice.gateway.http.Json;
import io.sluice.storage.promql.PromqlResult;
import reactor.core.scheduler.Scheduler;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.Deflater;
import java.util.zip.GZIPOutputStream;

/**
 * PromQL answers rendered as Prometheus' JSON once, not once a request: the query cache hands out the same
 * {@link PromqlResult} for every hit until the answer is invalidated or evicted, and this keeps that object's
 * response body beside it, keyed by identity (weak keys). An answer recomputed after an invalidation is a new
 * object, so it never gets an older answer's bytes; once the query cache lets an answer go, its bytes go too.
 * Rendering a large answer (100 series of 1,441 points, 5 MB) took most of a cached request's time.
 *
 * <p>A kept body of at least {@link #GZIP_FROM_BYTES} is also compressed with gzip, once, off the request's thread
 * (on the scheduler given), and from then on a client that takes gzip ({@code Accept-Encoding}; Grafana's does) gets
 * that: the 5 MB answer is about a tenth of it, which is most of what a hit costs on the wire. Until it is ready,
 * and for a client that takes no gzip, the plain body goes. A body computed for one request only is never
 * compressed (it would cost the request more than it saves).
 *
 * <p>Only answers served from the query cache are kept (see {@link #body}). At most a quarter of
 * {@code query.cache-max-bytes} of bodies is kept (weighed by their length, plain and compressed), least recently
 * used first out. Rendering runs outside the cache's locks: two requests that miss at once may both render, and one
 * body is kept.
 *
 * <p>Kept bodies live in direct memory, each response a retained view of it: a heap body would be copied into a new
 * direct buffer by the socket write of every response (for 5 MB, an allocation outside the pools and a copy each
 * time). A body leaves the cache by eviction, replacement or its answer being collected, and is freed when the last
 * response still writing it is done.
 */
final class RenderedAnswers {

    /** Bodies shorter than this are not compressed: the saving would not pay for the work. */
    static final int GZIP_FROM_BYTES = 1024;

    /** A response body, and whether it is the gzip-compressed one ({@code Content-Encoding: gzip}). */
    record Body(ByteBuf bytes, boolean gzip) {
    }

    private final Cache<PromqlResult, Kept> bodies;
    private final Scheduler compressor;

    /**
     * @param maxBytes   most bytes kept ({@link io.sluice.config.QueryConfig#renderedCacheBytes()})
     * @param compressor where kept bodies are compressed (CPU work, a few milliseconds a megabyte)
     */
    RenderedAnswers(long maxBytes, Scheduler compressor) {
        this.compressor = compressor;
        this.bodies = Caffeine.newBuilder().weakKeys().maximumWeight(maxBytes)
                .weigher((PromqlResult answer, Kept kept) -> kept.weight())
                .removalListener((PromqlResult answer, Kept kept, RemovalCause cause) -> {
                    if (kept != null) {
                        kept.release();
                    }
                })
                .executor(Runnable::run) // eviction on the caller's thread: no pool threads of its own
                .build();
    }

    /**
     * The success document of {@code answer}, compressed when {@code takesGzip} and a compressed copy is kept; the
     * caller owns the bytes that come back (a retained view when the body is kept). With {@code keep} (the answer
     * came from the query cache) the body is kept for the next request of the same answer: a query asked once is not
     * copied into this cache at all (a 5 MB answer computed on every request would only churn it), one asked again
     * is rendered once more and then served as it is.
     */
    Body body(PromqlResult answer, ByteBufAllocator alloc, boolean keep, boolean takesGzip) {
        Kept kept = bodies.getIfPresent(answer);
        if (kept != null) {
            try {
                ByteBuf gzip = takesGzip ? kept.gzip : null;
                // read only by the response's write: the bytes never change
                return gzip != null ? new Body(gzip.retainedDuplicate(), true)
                        : new Body(kept.plain.retainedDuplicate(), false);
            } catch (IllegalReferenceCountException evictedMeanwhile) {
                // freed between the lookup and the retain: rendered again below
            }
        }
        ByteBuf rendered = Json.write(alloc, PrometheusJson.expectedBytes(answer),
                json -> PrometheusJson.success(json, data -> PrometheusJson.result(data, answer)));
        if (keep) {
            ByteBuf copy = Unpooled.directBuffer(rendered.readableBytes());
            copy.writeBytes(rendered, rendered.readerIndex(), rendered.readableBytes());
            Kept fresh = new Kept(copy, null);
            bodies.put(answer, fresh);
            if (copy.readableBytes() >= GZIP_FROM_BYTES) {
                compressLater(answer, fresh);
            }
        }
        return new Body(rendered, false);
    }

    /** Compresses a kept body on the compressor, and keeps the two in its place if it is still there then. */
    private void compressLater(PromqlResult answer, Kept kept) {
        ByteBuf plain = kept.plain.retain(); // for the task: eviction meanwhile must not free what it reads
        try {
            compressor.schedule(() -> {
                try {
                    ByteBuf gzip = gzip(plain);
                    Kept both = new Kept(plain.retain(), gzip);
                    if (!bodies.asMap().replace(answer, kept, both)) { // replaced: the older entry's release is the cache's
                        both.release(); // evicted or replaced meanwhile
                    }
                } finally {
                    plain.release();
                }
            });
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            plain.release(); // the scheduler is shut down: the plain body serves
        }
    }

    /** The body gzip-compressed (the fastest level: JSON of numbers compresses well anyway), in direct memory. */
    static ByteBuf gzip(ByteBuf plain) {
        ByteBuf out = Unpooled.directBuffer(Math.max(64, plain.readableBytes() / 8));
        try (GZIPOutputStream gzip = new GZIPOutputStream(new ByteBufOutputStream(out), 64 * 1024) {
            {
                def.setLevel(Deflater.BEST_SPEED);
            }
        }) {
            plain.getBytes(plain.readerIndex(), gzip, plain.readableBytes());
        } catch (IOException | RuntimeException e) {
            out.release();
            throw e instanceof IOException io ? new UncheckedIOException(io) : (RuntimeException) e;
        }
        return out;
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

    /** A kept body, and its gzip-compressed copy once there is one; each entry owns one reference to each. */
    private static final class Kept {
        final ByteBuf plain;
        final ByteBuf gzip;
        private final AtomicBoolean released = new AtomicBoolean();

        Kept(ByteBuf plain, ByteBuf gzip) {
            this.plain = plain;
            this.gzip = gzip;
        }

        int weight() {
            return plain.readableBytes() + (gzip == null ? 0 : gzip.readableBytes());
        }

        void release() {
            if (released.compareAndSet(false, true)) {
                plain.release();
                if (gzip != null) {
                    gzip.release();
                }
            }
        }
    }
}
