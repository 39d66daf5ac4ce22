package io.sluice.gateway.ingest;

import io.sluice.config.IngestConfig;
import io.sluice.gateway.ratelimit.RateLimitDecision;
import io.sluice.gateway.ratelimit.TenantRateLimiter;
import io.sluice.protocol.record.Event;
import io.sluice.protocol.record.Series;
import io.sluice.storage.SeriesIds;
import io.sluice.storage.auth.Principal;

import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongSupplier;

/**
 * The one admission path: every rule an ingested sample or event must pass, and the gates a batch must
 * pass, whatever format it came in. Each format's decoder (HTTP JSON, the binary protocol, and any format
 * added later) only turns its bytes into names, labels, timestamps and values, then asks this class; so
 * the same item gets the same verdict, with the same {@link Refusal#reason() reason}, on every transport.
 *
 * <table>
 *   <caption>Item rules (lengths are UTF-8 bytes)</caption>
 *   <tr><th>what</th><th>rule</th><th>setting</th><th>reason</th></tr>
 *   <tr><td>metric name</td><td>{@value #METRIC_NAME_SYNTAX}, 1 to N bytes</td>
 *       <td>{@code ingest.max-name-length}</td><td>{@code invalid_name}</td></tr>
 *   <tr><td>event type</td><td>{@value #EVENT_TYPE_SYNTAX}, 1 to N bytes</td>
 *       <td>{@code ingest.max-name-length}</td><td>{@code invalid_name}</td></tr>
 *   <tr><td>labels (event attributes)</td><td>at most N</td><td>{@code ingest.max-labels}</td>
 *       <td>{@code too_many_labels}</td></tr>
 *   <tr><td>label name</td><td>{@value #LABEL_NAME_SYNTAX}, not starting with {@code __}, 1 to N bytes,
 *       given once</td><td>{@code ingest.max-label-name-length}</td><td>{@code invalid_label}</td></tr>
 *   <tr><td>label value</td><td>1 to N bytes, no NUL, valid Unicode</td>
 *       <td>{@code ingest.max-label-value-length}</td><td>{@code invalid_label}</td></tr>
 *   <tr><td>event id</td><td>1 to N bytes, no NUL, valid Unicode</td>
 *       <td>{@code ingest.max-label-value-length}</td><td>{@code invalid_id}</td></tr>
 *   <tr><td>event key</td><td>0 to N bytes, no NUL, valid Unicode</td>
 *       <td>{@code ingest.max-label-value-length}</td><td>{@code invalid_key}</td></tr>
 *   <tr><td>timestamp</td><td>not older than now − window, not later than now + skew</td>
 *       <td>{@code ingest.late-window}, {@code ingest.clock-skew}</td><td>{@code too_old}, {@code too_new}</td></tr>
 *   <tr><td>series</td><td>already active, or the tenant under its cap</td>
 *       <td>{@code ingest.max-active-series}</td><td>{@code cardinality_limit}</td></tr>
 *   <tr><td>value</td><td>any IEEE 754 double: NaN, +Inf and −Inf are stored as such (what Prometheus
 *       users expect)</td><td>—</td><td>—</td></tr>
 * </table>
 *
 * <p>The rules of an item are checked in the order of the table (name, label count, labels, id, key,
 * timestamp, then cardinality), so an item breaking several gets the same reason everywhere. Batch gates,
 * after the items: {@link #admitBatch} takes room under {@code ingest.max-in-flight-items} / {@code -bytes}
 * ({@code saturated}) and the tenant's item quota ({@code item_quota}), and counts its refusals in
 * {@code sluice_ingest_rejected_total{reason,transport}}. Thread-safe.
 */
public final class Admission {

    public static final String METRIC_NAME_SYNTAX = "[a-zA-Z_:][a-zA-Z0-9_:.]*";
    public static final String LABEL_NAME_SYNTAX = "[a-zA-Z_][a-zA-Z0-9_]*";
    public static final String EVENT_TYPE_SYNTAX = "[a-zA-Z_][a-zA-Z0-9_.:-]*";
    /** Longest piece of a refused string quoted back in a message. */
    private static final int QUOTE_CHARS = 64;

    private final IngestConfig config;
    private final ActiveSeries activeSeries;
    private final InFlightLimit inFlight;
    private final TenantRateLimiter limiter;
    private final IngestMetrics metrics;
    private final LongSupplier nowMillis;
    private final long lateWindowMs;
    private final long clockSkewMs;

    public Admission(IngestConfig config, ActiveSeries activeSeries, InFlightLimit inFlight,
                     TenantRateLimiter limiter, IngestMetrics metrics, LongSupplier nowMillis) {
        this.config = config;
        this.activeSeries = activeSeries;
        this.inFlight = inFlight;
        this.limiter = limiter;
        this.metrics = metrics;
        this.nowMillis = nowMillis;
        this.lateWindowMs = config.lateWindow().toMillis();
        this.clockSkewMs = config.clockSkew().toMillis();
    }

    /** The gateway's clock in epoch milliseconds; read once per batch and passed to the checks. */
    public long now() {
        return nowMillis.getAsLong();
    }

    /** The in-flight bound the batch gate uses (binary connections pause their reads on it). */
    public InFlightLimit inFlight() {
        return inFlight;
    }

    // ---- samples ---------------------------------------------------------------------------------

    /**
     * The rules of a sample as a decoder read it: metric name, labels given as alternating names and values
     * (in any order, possibly with a name twice), timestamp. Null when it passes; then
     * {@code Series.of(name, keyValues...)} cannot fail.
     */
    public Refusal checkSample(String name, List<String> keyValues, long timestampMs, long now) {
        Refusal r = checkSeries(name, keyValues);
        return r != null ? r : checkTimestamp(timestampMs, now);
    }

    /**
     * The rules of a series as a decoder read it (metric name, then labels as alternating names and values),
     * without a timestamp: for formats that carry many samples per series. Null when it passes; then
     * {@code Series.of(name, keyValues...)} cannot fail.
     */
    public Refusal checkSeries(String name, List<String> keyValues) {
        Refusal r = checkMetricName(name);
        return r != null ? r : checkSeriesLabels(keyValues);
    }

    /** The first of {@link #checkSeries}'s rules: the metric name's. Null when it passes. */
    public Refusal checkMetricName(String name) {
        return checkName(name, NameSyntax.METRIC, "name");
    }

    /**
     * The rest of {@link #checkSeries}'s rules: the labels' (alternating names and values, as a decoder read them).
     * Null when they pass; then a series of them is refused for its name or not at all, whatever its name.
     */
    public Refusal checkSeriesLabels(List<String> keyValues) {
        return checkLabels("labels", keyValues);
    }

    /** The rules of a series already in canonical form (names distinct and sorted), without its timestamp. */
    public Refusal checkSeries(Series series) {
        Refusal r = checkName(series.name(), NameSyntax.METRIC, "name");
        if (r != null) {
            return r;
        }
        int n = series.labelCount();
        if (n > config.maxLabels()) {
            return tooManyLabels("labels", n);
        }
        for (int i = 0; i < n; i++) {
            r = checkLabel("labels", series.labelKey(i), series.labelValue(i));
            if (r != null) {
                return r;
            }
        }
        return null;
    }

    /**
     * The cardinality limit of {@code tenant} ({@code ingest.max-active-series}), looked up once for the series of a
     * batch.
     */
    public SeriesGate seriesOf(String tenant, long tenantHash) {
        return new SeriesGate(activeSeries.of(tenant), tenantHash);
    }

    /** The series one tenant may send: those already active, and new ones while the tenant is under the limit. */
    public final class SeriesGate {

        private final ActiveSeries.Tenant active;
        private final long tenantHash;

        private SeriesGate(ActiveSeries.Tenant active, long tenantHash) {
            this.active = active;
            this.tenantHash = tenantHash;
        }

        /** Whether a sample of {@code series} may be taken; a newly admitted series becomes active. */
        public Refusal admit(Series series) {
            if (active.admit(SeriesIds.of(tenantHash, series))) {
                return null;
            }
            return new Refusal(Refusal.CARDINALITY_LIMIT, "series " + quote(series.toString())
                    + " would exceed the tenant's limit of " + config.maxActiveSeries()
                    + " active series (ingest.max-active-series)");
        }
    }

    // ---- events ----------------------------------------------------------------------------------

    /**
     * The rules of an event as a decoder read it; attributes as alternating names and values. Null when
     * it passes.
     */
    public Refusal checkEvent(String id, String type, String key, List<String> attributeKeyValues,
                              long timestampMs, long now) {
        Refusal r = checkEventFields(id, type, key);
        if (r == null) {
            r = checkLabels("attributes", attributeKeyValues);
        }
        return r != null ? r : checkTimestamp(timestampMs, now);
    }

    /** The rules of a decoded event, timestamp included. Null when it passes. */
    public Refusal checkEvent(Event event, long now) {
        Refusal r = checkEventFields(event.id(), event.type(), event.key());
        if (r != null) {
            return r;
        }
        Map<String, String> attributes = event.attributes();
        if (attributes.size() > config.maxLabels()) {
            return tooManyLabels("attributes", attributes.size());
        }
        for (Map.Entry<String, String> a : attributes.entrySet()) {
            r = checkLabel("attributes", a.getKey(), a.getValue());
            if (r != null) {
                return r;
            }
        }
        return checkTimestamp(event.timestampMs(), now);
    }

    private Refusal checkEventFields(String id, String type, String key) {
        String problem = text(id, false, config.maxLabelValueLength(), "ingest.max-label-value-length");
        if (problem != null) {
            return new Refusal(Refusal.INVALID_ID, "id " + problem);
        }
        Refusal r = checkName(type, NameSyntax.EVENT_TYPE, "type");
        if (r != null) {
            return r;
        }
        problem = text(key, true, config.maxLabelValueLength(), "ingest.max-label-value-length");
        return problem == null ? null : new Refusal(Refusal.INVALID_KEY, "key " + problem);
    }

    // ---- shared rules ----------------------------------------------------------------------------

    /** The late-data window and clock-skew allowance around {@code now}. */
    public Refusal checkTimestamp(long timestampMs, long now) {
        if (timestampMs < now - lateWindowMs) {
            return new Refusal(Refusal.TOO_OLD, "timestamp " + timestampMs + " is older than the late-data window of "
                    + config.lateWindow() + " (ingest.late-window)");
        }
        if (timestampMs > now + clockSkewMs) {
            return new Refusal(Refusal.TOO_NEW, "timestamp " + timestampMs
                    + " is further ahead than the clock-skew allowance of " + config.clockSkew() + " (ingest.clock-skew)");
        }
        return null;
    }

    private Refusal checkName(String name, NameSyntax syntax, String field) {
        int bytes = utf8Length(name); // -1 (not Unicode) fails the syntax below
        if (bytes == 0 || bytes > config.maxNameLength()) {
            return new Refusal(Refusal.INVALID_NAME, field + " must have 1 to " + config.maxNameLength()
                    + " bytes (ingest.max-name-length), not " + bytes);
        }
        if (!syntax.matches(name)) {
            return new Refusal(Refusal.INVALID_NAME, field + " " + quote(name) + " does not match " + syntax.pattern());
        }
        return null;
    }

    private Refusal checkLabels(String field, List<String> keyValues) {
        int n = keyValues.size() / 2;
        if (n > config.maxLabels()) {
            return tooManyLabels(field, n);
        }
        // the usual few names are compared with those before them; a set only pays beyond
        Set<String> seen = n > 16 ? new HashSet<>(n * 2) : null;
        for (int i = 0; i < n; i++) {
            String name = keyValues.get(2 * i);
            Refusal r = checkLabel(field, name, keyValues.get(2 * i + 1));
            if (r != null) {
                return r;
            }
            if (seen != null ? !seen.add(name) : appearsBefore(keyValues, i)) {
                return new Refusal(Refusal.INVALID_LABEL, field + " name " + quote(name) + " appears twice");
            }
        }
        return null;
    }

    /** Whether the name of pair {@code i} of {@code keyValues} is the name of a pair before it. */
    private static boolean appearsBefore(List<String> keyValues, int i) {
        String name = keyValues.get(2 * i);
        for (int j = 0; j < i; j++) {
            if (keyValues.get(2 * j).equals(name)) {
                return true;
            }
        }
        return false;
    }

    private Refusal checkLabel(String field, String name, String value) {
        int bytes = utf8Length(name);
        if (bytes == 0 || bytes > config.maxLabelNameLength() || !NameSyntax.LABEL.matches(name)
                || name.startsWith("__")) {
            return new Refusal(Refusal.INVALID_LABEL, field + " name " + quote(name) + " must match "
                    + LABEL_NAME_SYNTAX + ", not start with __, and have 1 to " + config.maxLabelNameLength()
                    + " bytes (ingest.max-label-name-length)");
        }
        String problem = text(value, false, config.maxLabelValueLength(), "ingest.max-label-value-length");
        return problem == null ? null : new Refusal(Refusal.INVALID_LABEL, field + " " + name + " " + problem);
    }

    private Refusal tooManyLabels(String field, int n) {
        return new Refusal(Refusal.TOO_MANY_LABELS, n + " " + field + ", more than the " + config.maxLabels()
                + " allowed (ingest.max-labels)");
    }

    /** What is wrong with a free-text field (a label value, event id or key), or null. */
    private static String text(String s, boolean mayBeEmpty, int maxBytes, String setting) {
        int bytes = utf8Length(s);
        if (bytes < 0) {
            return "is not valid Unicode (it holds an unpaired surrogate)";
        }
        if (bytes == 0 && !mayBeEmpty) {
            return "must not be empty";
        }
        if (bytes > maxBytes) {
            return "has " + bytes + " bytes in UTF-8, more than the " + maxBytes + " allowed (" + setting + ")";
        }
        if (s.indexOf('\0') >= 0) {
            return "contains a NUL character";
        }
        return null;
    }

    /** The UTF-8 length of {@code s}, or -1 when it holds an unpaired surrogate (so has no UTF-8 form). */
    static int utf8Length(String s) {
        int bytes = 0;
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x80) {
                bytes++;
            } else if (c < 0x800) {
                bytes += 2;
            } else if (!Character.isSurrogate(c)) {
                bytes += 3;
            } else if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                bytes += 4;
                i++;
            } else {
                return -1;
            }
        }
        return bytes;
    }

    /** {@code s} in single quotes for a message: at most {@link #QUOTE_CHARS} characters, anything but printable ASCII escaped. */
    static String quote(String s) {
        StringBuilder out = new StringBuilder(Math.min(s.length(), QUOTE_CHARS) + 8).append('\'');
        int end = Math.min(s.length(), QUOTE_CHARS);
        for (int i = 0; i < end; i++) {
            char c = s.charAt(i);
            if (c >= 0x20 && c < 0x7f && c != '\\') {
                out.append(c);
            } else {
                out.append(String.format("\\u%04x", (int) c));
            }
        }
        if (end < s.length()) {
            out.append("...");
        }
        return out.append('\'').toString();
    }

    // ---- batch gates -----------------------------------------------------------------------------

    /** What {@link #admitBatch} decided. */
    public enum Outcome {
        /** Room was taken: call {@link #release} with the same numbers once the batch is durable or failed. */
        ADMITTED,
        /** Too much in flight; retry after {@link InFlightLimit#RETRY_AFTER_MS}. */
        SATURATED,
        /** The tenant's item quota is spent for now; retry after the quota's retry-after. */
        THROTTLED,
        /** The batch is larger than the tenant's item quota can ever hold; split it. */
        NEVER_FITS
    }

    /**
     * The verdict on a batch as a whole.
     *
     * @param quota the item quota's decision (absent when the gate stopped before it), for rate-limit headers
     */
    public record BatchVerdict(Outcome outcome, Refusal refusal, RateLimitDecision quota) {

        public boolean admitted() {
            return outcome == Outcome.ADMITTED;
        }

        /** How long the client should wait before resending; 0 when resending the same batch never helps. */
        public long retryAfterMs() {
            return switch (outcome) {
                case SATURATED -> InFlightLimit.RETRY_AFTER_MS;
                case THROTTLED -> quota.retryAfterMillis();
                default -> 0;
            };
        }
    }

    /**
     * The batch gates for {@code items} admitted items of {@code bytes} bytes: room in flight, then the
     * tenant's item quota. A refusal is counted here, as {@code items} items of its reason.
     */
    public BatchVerdict admitBatch(Principal principal, String transport, int items, long bytes) {
        if (!inFlight.tryAcquire(items, bytes)) {
            metrics.rejected(Refusal.SATURATED, transport, items);
            return new BatchVerdict(Outcome.SATURATED, new Refusal(Refusal.SATURATED, "the gateway has too much "
                    + "data in flight to Kafka (ingest.max-in-flight-items / -bytes); nothing was accepted, retry"), null);
        }
        RateLimitDecision quota = limiter.tryConsume(principal, TenantRateLimiter.Kind.ITEMS, items);
        if (quota.allowed()) {
            return new BatchVerdict(Outcome.ADMITTED, null, quota);
        }
        inFlight.release(items, bytes);
        metrics.rejected(Refusal.ITEM_QUOTA, transport, items);
        if (quota.neverFits()) {
            return new BatchVerdict(Outcome.NEVER_FITS, new Refusal(Refusal.ITEM_QUOTA, "a batch of " + items
                    + " items can never fit the tenant's item quota of " + quota.limit() + " per minute; split it"), quota);
        }
        return new BatchVerdict(Outcome.THROTTLED, new Refusal(Refusal.ITEM_QUOTA, "tenant " + principal.tenant()
                + " is over its item quota of " + quota.limit() + " per minute; retry after "
                + quota.retryAfterSeconds() + " s"), quota);
    }

    /** Gives back the room an admitted batch took, once it is durable or failed. */
    public void release(int items, long bytes) {
        inFlight.release(items, bytes);
    }

    /** Counts {@code items} items refused for {@code reason} in {@code sluice_ingest_rejected_total}. */
    public void refused(String reason, String transport, long items) {
        metrics.rejected(reason, transport, items);
    }

    /**
     * Counts {@code items} items of {@code kind} ({@code samples}, {@code events}) acknowledged to {@code tenant},
     * in {@code sluice_ingest_accepted_total} and the tenant's {@code sluice_ingest_tenant_*_total}.
     */
    public void accepted(String tenant, String kind, String transport, long items) {
        metrics.accepted(tenant, kind, transport, items);
    }
}
