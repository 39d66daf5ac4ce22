package io.sluice.gateway.ingest;

/**
 * One refused item of an HTTP batch: its index in the batch, and the {@link Refusal}'s reason code and
 * message.
 */
public record Rejection(int index, String reason, String message) {

    public static Rejection of(int index, Refusal refusal) {
        return new Rejection(index, refusal.reason(), refusal.message());
    }
}
