package io.sluice.gateway.ingest;

/**
 * Why {@link Admission} refused an item or a batch: a stable reason code, which is also the {@code reason}
 * tag of {@code sluice_ingest_rejected_total}, and a message naming the field and the setting to change.
 * Every transport reports the same reason for the same item: HTTP per item in its 202/422 answer, the
 * binary protocol in the NACK that refuses the batch holding it.
 */
public record Refusal(String reason, String message) {

    // ---- per item ---------------------------------------------------------------------------
    /** A metric name or event type that is empty, too long or not of the allowed characters. */
    public static final String INVALID_NAME = "invalid_name";
    /** A label (or event attribute) with a bad name or value, or given twice. */
    public static final String INVALID_LABEL = "invalid_label";
    /** More labels (or attributes) than {@code ingest.max-labels}. */
    public static final String TOO_MANY_LABELS = "too_many_labels";
    /** An event id that is empty, too long, or holds a NUL or invalid Unicode. */
    public static final String INVALID_ID = "invalid_id";
    /** An event key that is too long, or holds a NUL or invalid Unicode. */
    public static final String INVALID_KEY = "invalid_key";
    /** Older than {@code ingest.late-window}. */
    public static final String TOO_OLD = "too_old";
    /** Further ahead than {@code ingest.clock-skew}. */
    public static final String TOO_NEW = "too_new";
    /** A new series beyond the tenant's {@code ingest.max-active-series}. */
    public static final String CARDINALITY_LIMIT = "cardinality_limit";

    // ---- per item, decoding (formats whose fields can be absent or mistyped) ------------------
    /** Not an item at all (a JSON array element that is not an object). */
    public static final String INVALID_ITEM = "invalid_item";
    /** A value that is not a number (nor one of the spellings of NaN and ±Inf). */
    public static final String INVALID_VALUE = "invalid_value";
    /** A timestamp in no accepted form. */
    public static final String INVALID_TIMESTAMP = "invalid_timestamp";
    /** A required field is absent. */
    public static final String MISSING_FIELD = "missing_field";
    /** A Prometheus remote_write histogram (native histograms are not stored). */
    public static final String UNSUPPORTED_HISTOGRAM = "unsupported_histogram";
    /** A Prometheus remote_write exemplar: dropped, its series' samples are still taken. */
    public static final String UNSUPPORTED_EXEMPLAR = "unsupported_exemplar";

    // ---- per batch ---------------------------------------------------------------------------
    /** Too much accepted and not yet durable ({@code ingest.max-in-flight-items} / {@code -bytes}). */
    public static final String SATURATED = "saturated";
    /** The tenant's item quota ({@code tenants.<tier>.items-per-minute}) is spent, or the batch never fits it. */
    public static final String ITEM_QUOTA = "item_quota";

    /**
     * Whether the reason is a limit the item exceeded (rather than a malformed item): the binary protocol
     * answers such refusals with {@code LIMIT_EXCEEDED} instead of {@code INVALID_RECORD}.
     */
    public boolean isLimit() {
        return reason.equals(TOO_MANY_LABELS) || reason.equals(CARDINALITY_LIMIT);
    }
}
