package io.sluice.storage.spool;

import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.binder.MeterBinder;

import java.util.function.ToDoubleFunction;

/**
 * The spool's meters for {@code /metrics}: {@code new SpoolMetrics(spool).bindTo(registry)}. Names live
 * here, next to the limits they report on; values are read from {@link Spool#stats()} at scrape time.
 */
public final class SpoolMetrics implements MeterBinder {

    private final Spool spool;

    public SpoolMetrics(Spool spool) {
        this.spool = spool;
    }

    @Override
    public void bindTo(MeterRegistry registry) {
        gauge(registry, "sluice.spool.bytes", "Undelivered bytes in the spool (bounded by spool.max-bytes)",
                SpoolStats::bytes);
        gauge(registry, "sluice.spool.max.bytes", "The spool.max-bytes setting", SpoolStats::maxBytes);
        gauge(registry, "sluice.spool.segments", "Segment files in the spool directory", SpoolStats::segments);
        counter(registry, "sluice.spool.appends", "Records written and fsync'd to the spool", SpoolStats::appends);
        counter(registry, "sluice.spool.appended.bytes", "Record bytes written and fsync'd to the spool",
                SpoolStats::appendedBytes);
        counter(registry, "sluice.spool.fsyncs", "fsyncs of spool segment files (one per group commit)",
                SpoolStats::fsyncs);
        counter(registry, "sluice.spool.checkpoints", "Delivery checkpoints written", SpoolStats::checkpoints);
        counter(registry, "sluice.spool.torn.tails", "Torn segment tails truncated when the spool was opened",
                SpoolStats::tornTails);
        FunctionCounter.builder("sluice.spool.rejections", spool, s -> s.stats().rejectedFull())
                .description("Appends refused by the spool (reason=full: raise spool.max-bytes)")
                .tag("reason", "full")
                .register(registry);
    }

    private void gauge(MeterRegistry registry, String name, String description, ToDoubleFunction<SpoolStats> value) {
        Gauge.builder(name, spool, s -> value.applyAsDouble(s.stats())).description(description)
                .baseUnit(name.endsWith("bytes") ? "bytes" : null).register(registry);
    }

    private void counter(MeterRegistry registry, String name, String description,
                         ToDoubleFunction<SpoolStats> value) {
        FunctionCounter.builder(name, spool, s -> value.applyAsDouble(s.stats())).description(description)
                .register(registry);
    }
}
