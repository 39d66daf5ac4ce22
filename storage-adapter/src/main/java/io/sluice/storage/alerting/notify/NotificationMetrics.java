package io.sluice.storage.alerting.notify;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;

import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The notifier's meters: {@code sluice_alert_notifications_total{tenant, receiver, result}} (result {@code sent},
 * {@code failed}, {@code retried}, {@code dropped}), {@code sluice_alert_outbox_rows} (notifications waiting for
 * delivery, all tenants) and {@code sluice_alert_delivery_seconds{outcome}} (one delivery attempt). Receiver names
 * are chosen per tenant, so the counter is tagged with both: a receiver is named by the tenant that owns it, and
 * tenants × receivers stays small next to the series the same tenants ingest.
 */
public final class NotificationMetrics {

    public static final String SENT = "sent";
    public static final String FAILED = "failed";
    public static final String RETRIED = "retried";
    public static final String DROPPED = "dropped";

    private final MeterRegistry registry;
    private final ConcurrentMap<String, Counter> counters = new ConcurrentHashMap<>();
    private final ConcurrentMap<String, Timer> timers = new ConcurrentHashMap<>();
    private final AtomicLong outboxRows = new AtomicLong();

    public NotificationMetrics(MeterRegistry registry) {
        this.registry = registry;
        Gauge.builder("sluice_alert_outbox_rows", outboxRows, AtomicLong::get)
                .description("Notifications accepted for delivery and not yet delivered or dropped (all tenants)")
                .strongReference(true).register(registry);
    }

    public void count(String tenant, String receiver, String result) {
        counters.computeIfAbsent(tenant + '\0' + receiver + '\0' + result, k -> Counter
                        .builder("sluice_alert_notifications")
                        .description("Alert notifications by tenant, receiver and result (sent: the receiver took it; "
                                + "failed: an attempt failed; retried: scheduled again with backoff; dropped: given "
                                + "up, by a 4xx answer, alerting.delivery-max-age or alerting.outbox-max-rows)")
                        .tag("tenant", tenant).tag("receiver", receiver).tag("result", result).register(registry))
                .increment();
    }

    void outboxRows(long rows) {
        outboxRows.set(rows);
    }

    void attempt(String outcome, Duration took) {
        timers.computeIfAbsent(outcome, o -> Timer.builder("sluice_alert_delivery")
                .description("Delivery attempts of alert notifications, by outcome (ok, retry, drop)")
                .tag("outcome", o).register(registry)).record(took);
    }
}
