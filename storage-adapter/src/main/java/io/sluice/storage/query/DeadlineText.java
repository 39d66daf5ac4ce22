package io.sluice.storage.query;

/**
 * A text that ends a regular expression's matching on it once a deadline has passed. {@code java.util.regex}
 * backtracks, so a user's pattern can take exponential time on a value (PromQL's own dialect, RE2, cannot); every
 * place that applies a user's pattern in Java matches it on a {@code DeadlineText}, so that it ends as a
 * {@link QueryException.Kind#TIMEOUT} ({@code query.statement-timeout}, as PostgreSQL's matching would) instead of
 * holding a thread. The clock is read every 4,096 characters read.
 */
public final class DeadlineText implements CharSequence {

    private final String value;
    private final long deadlineNanos;
    private int reads;

    /** @param deadlineNanos on {@link System#nanoTime()}'s scale */
    public DeadlineText(String value, long deadlineNanos) {
        this.value = value;
        this.deadlineNanos = deadlineNanos;
    }

    @Override
    public char charAt(int index) {
        if ((++reads & 4095) == 0) {
            check(deadlineNanos);
        }
        return value.charAt(index);
    }

    /** Fails with a {@link QueryException.Kind#TIMEOUT} when {@code deadlineNanos} has passed. */
    public static void check(long deadlineNanos) {
        if (System.nanoTime() - deadlineNanos > 0) {
            throw QueryException.timeout("the query ran longer than query.statement-timeout outside PostgreSQL "
                    + "(evaluating it, or matching its regular expressions)");
        }
    }

    @Override
    public int length() {
        return value.length();
    }

    @Override
    public CharSequence subSequence(int start, int end) {
        return value.subSequence(start, end);
    }

    @Override
    public String toString() {
        return value;
    }
}
