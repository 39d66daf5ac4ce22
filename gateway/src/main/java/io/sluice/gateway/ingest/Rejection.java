package io.sluice.gateway.ingest;

/**
 * Why one item of a batch was refused: its index in the batch, a stable reason code and a message
 * naming the field and the limit.
 */
public record Rejection(int index, String reason, String message) {

    /** The reason codes; each is also a tag of {@code sluice_ingest_rejected_total}. */
    public static final String INVALID_ITEM = "invalid_item";
    public static final String INVALID_NAME = "invalid_name";
    public static final String INVALID_LABEL = "invalid_label";
    public static final String TOO_MANY_LABELS = "too_many_labels";
    public static final String INVALID_VALUE = "invalid_value";
    public static final String INVALID_TIMESTAMP = "invalid_timestamp";
    public static final String TOO_OLD = "too_old";
    public static final String TOO_NEW = "too_new";
    public static final String MISSING_FIELD = "missing_field";
    public static final String CARDINALITY_LIMIT = "cardinality_limit";
}
