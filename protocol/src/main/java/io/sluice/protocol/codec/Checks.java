package io.sluice.protocol.codec;

/** Argument checks that produce the project's one message format: {@code "name: value (expected: > 0)"}. */
public final class Checks {

    private Checks() {
    }

    /** Returns {@code value} if it is greater than zero. */
    public static int checkPositive(int value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
        return value;
    }

    /** Returns {@code value} if it is greater than zero. */
    public static long checkPositive(long value, String name) {
        if (value <= 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: > 0)");
        }
        return value;
    }

    /** Returns {@code value} if it is zero or more. */
    public static long checkNonNegative(long value, String name) {
        if (value < 0) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: >= 0)");
        }
        return value;
    }

    /** Returns {@code value} if it lies in {@code [min, max]}. */
    public static int checkInRange(int value, int min, int max, String name) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + ": " + value + " (expected: " + min + "-" + max + ")");
        }
        return value;
    }
}
