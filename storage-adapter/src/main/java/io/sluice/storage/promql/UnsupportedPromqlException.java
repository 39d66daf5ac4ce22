package io.sluice.storage.promql;

/**
 * A valid PromQL expression that uses something outside Sluice's documented subset (a function, an operator, a
 * modifier), found by the parser or the planner. A {@code bad_data} error whose message names the feature.
 */
public final class UnsupportedPromqlException extends PromqlException {

    private static final long serialVersionUID = 1L;

    private final String feature;

    public UnsupportedPromqlException(String feature) {
        super(ErrorType.BAD_DATA, "unsupported in Sluice's PromQL subset: " + feature);
        this.feature = feature;
    }

    /** What is not supported, for example {@code function label_replace} or {@code subquery}. */
    public String feature() {
        return feature;
    }
}
