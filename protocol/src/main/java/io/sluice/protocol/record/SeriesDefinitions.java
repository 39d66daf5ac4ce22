package io.sluice.protocol.record;

import io.netty.buffer.ByteBuf;
import io.netty.util.collection.LongObjectHashMap;

/**
 * The series definitions read so far, for reading many record blocks that define the same series: every segment an
 * agent sends defines again the series its samples refer to, so a storage writer decoding a batch of segments meets
 * the same definitions over and over. A definition whose bytes equal one read before is taken as that {@link Series}
 * (after a structural walk, one hash and one byte comparison) instead of being decoded into new strings; it passed the
 * same checks when it was first read, and a definition's validity depends on its bytes and the limits alone.
 *
 * <p>Use one per set of blocks read with the same {@link RecordLimits}; it holds every series it is given until it is
 * dropped, so keep it for a bounded batch. Not thread-safe.
 */
public final class SeriesDefinitions {

    /** Keyed by the fingerprint itself (no boxed key to follow: the lookup runs for every definition read). */
    private final LongObjectHashMap<Series> byFingerprint = new LongObjectHashMap<>();

    /**
     * The series whose definition is exactly the bytes {@code in[index, index + length)}, or null; hashed in
     * {@code view}, a little-endian view of the same bytes at {@code viewIndex}.
     */
    Series find(java.nio.ByteBuffer view, int viewIndex, ByteBuf in, int index, int length) {
        Series known = byFingerprint.get(Series.fingerprint(view, viewIndex, length));
        return known != null && known.definitionEquals(in, index, length) ? known : null;
    }

    /** Remembers a series read and checked in full. */
    void add(Series series) {
        if (!byFingerprint.containsKey(series.fingerprint())) {
            byFingerprint.put(series.fingerprint(), series);
        }
    }

    /** How many distinct definitions are remembered. */
    public int size() {
        return byFingerprint.size();
    }
}
