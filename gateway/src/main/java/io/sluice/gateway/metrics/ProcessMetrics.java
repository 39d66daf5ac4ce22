package io.sluice.gateway.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyEventExecutorMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.channel.EventLoopGroup;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.sluice.gateway.http.HttpExchange;
import reactor.core.publisher.Mono;
import reactor.core.scheduler.Schedulers;

/**
 * The process's Prometheus registry with JVM, system and Netty meters, and the {@code GET /metrics} route.
 */
public final class ProcessMetrics implements AutoCloseable {

    private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
    private final JvmGcMetrics gc = new JvmGcMetrics();

    public ProcessMetrics() {
        registry.config().commonTags("application", "sluice");
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ClassLoaderMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
        new NettyAllocatorMetrics(PooledByteBufAllocator.DEFAULT).bindTo(registry);
    }

    public MeterRegistry registry() {
        return registry;
    }

    /** Adds the event-loop meters (pending tasks per loop) once the server's loops exist. */
    public void bindEventLoops(EventLoopGroup group) {
        new NettyEventExecutorMetrics(group).bindTo(registry);
    }

    /**
     * Serves the scrape. Rendering reads system gauges (some read /proc), so it runs on a worker thread,
     * never on the event loop.
     */
    public void scrape(HttpExchange exchange) {
        Mono.fromCallable(registry::scrape)
                .subscribeOn(Schedulers.boundedElastic())
                .subscribe(text -> exchange.respond(HttpResponseStatus.OK, CONTENT_TYPE,
                                io.netty.buffer.Unpooled.wrappedBuffer(text.getBytes(java.nio.charset.StandardCharsets.UTF_8))),
                        e -> exchange.error(HttpResponseStatus.INTERNAL_SERVER_ERROR, "internal",
                                "metrics could not be rendered"));
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }
}
