package io.sluice.storage.promql;

/**
 * A PromQL expression that cannot be evaluated, typed as Prometheus types its API errors: {@code bad_data} for an
 * expression that does not parse or does not type-check, {@code execution} for one that fails while it runs.
 */
public class PromqlException extends RuntimeException {

    private static final long serialVersionUID = 1L;

    /** Prometheus' {@code errorType}s this engine produces. */
    public enum ErrorType {
        BAD_DATA("bad_data"), EXECUTION("execution");

        private final String wire;

        ErrorType(String wire) {
            this.wire = wire;
        }

        /** As Prometheus' API writes it. */
        public String wire() {
            return wire;
        }
    }

    private final ErrorType errorType;

    public PromqlException(ErrorType errorType, String message) {
        super(message, null, false, false);
        this.errorType = errorType;
    }

    public ErrorType errorType() {
        return errorType;
    }
}
