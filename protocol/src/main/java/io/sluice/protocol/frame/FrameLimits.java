package io.sluice.protocol.frame;

import io.sluice.protocol.record.RecordLimits;

import java.util.Objects;

import static io.sluice.protocol.codec.Checks.checkPositive;

/**
 * The limits the frame decoder enforces before it allocates anything.
 *
 * <table>
 *   <caption>Limits</caption>
 *   <tr><th>setting</th><th>default</th><th>rejected with</th></tr>
 *   <tr><td>maxFrameBytes (payload, as on the wire)</td><td>{@value #DEFAULT_MAX_FRAME_BYTES}</td><td>FRAME_TOO_LARGE</td></tr>
 *   <tr><td>records (see {@link RecordLimits})</td><td>{@link RecordLimits#DEFAULTS}</td><td>per limit</td></tr>
 * </table>
 *
 * <p>An LZ4 BATCH is bounded twice: by {@code maxFrameBytes} as it arrives and by
 * {@link RecordLimits#maxBlockBytes()} for what it declares to decompress to, checked before decompressing.
 */
public final class FrameLimits {

    public static final int DEFAULT_MAX_FRAME_BYTES = 1024 * 1024;

    /** The defaults above. */
    public static final FrameLimits DEFAULTS = builder().build();

    private final int maxFrameBytes;
    private final RecordLimits records;

    private FrameLimits(Builder b) {
        maxFrameBytes = b.maxFrameBytes;
        records = b.records;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The largest frame payload accepted, in bytes. */
    public int maxFrameBytes() {
        return maxFrameBytes;
    }

    /** The limits on the records inside BATCH frames (and on strings in every frame). */
    public RecordLimits records() {
        return records;
    }

    @Override
    public String toString() {
        return "FrameLimits{maxFrameBytes=" + maxFrameBytes + ", records=" + records + '}';
    }

    /** Builds {@link FrameLimits}. */
    public static final class Builder {
        private int maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
        private RecordLimits records = RecordLimits.DEFAULTS;

        private Builder() {
        }

        public Builder maxFrameBytes(int v) {
            maxFrameBytes = checkPositive(v, "maxFrameBytes");
            return this;
        }

        public Builder records(RecordLimits v) {
            records = Objects.requireNonNull(v, "records");
            return this;
        }

        public FrameLimits build() {
            return new FrameLimits(this);
        }
    }
}
