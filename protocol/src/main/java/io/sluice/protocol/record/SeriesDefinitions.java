package io.sluice.protocol.record;

import io.netty.util.collection.LongObjectHashMap;

import java.nio.ByteBuffer;

/**
 * The series definitions read so far, for reading many record blocks that define the same series: every segment an
 * agent sends defines again the series its samples refer to, so a storage writer decoding a batch of segments meets
 * the same definitions over and over. A definition whose bytes equal one read before is taken as that {@link Series}
 * instead of being decoded into new strings; it passed the same checks when it was first read, and a definition's
 * validity depends on its bytes and the limits alone.
 *
 * <p>Two ways to recognise one, cheapest first:
 * <ul>
 *   <li><b>The one that came next last time.</b> Agents send their series in the same order batch after batch, so
 *       each definition remembers the one read right after it. When the bytes ahead start with that one's bytes,
 *       they are that definition: the encoding delimits itself (a length before every string, a count before the
 *       labels), so bytes equal to a whole definition are read as exactly that definition. One comparison.</li>
 *   <li><b>By content:</b> a structural walk for the length, one hash of the bytes, a map lookup and a comparison.</li>
 * </ul>
 *
 * <p>Use one per set of blocks read with the same {@link RecordLimits}; it holds every series it is given until it is
 * dropped, so keep it for a bounded batch. Not thread-safe.
 */
public final class SeriesDefinitions {

    /** A remembered definition and the one read right after it the last time it was read. */
    private static final class Entry {
        final Series series;
        Entry next;

        Entry(Series series) {
            this.series = series;
        }
    }

    /** Keyed by the fingerprint itself (no boxed key to follow: the lookup runs for every definition read). */
    private final LongObjectHashMap<Entry> byFingerprint = new LongObjectHashMap<>();
    /** The definition read last (in any block), whose successor is the next guess; null before the first. */
    private Entry last;

    /**
     * The series whose definition the bytes of {@code view} at {@code [index, end)} start with, if it is the one that
     * came after the previous definition last time; or null (then look it up with {@link #find}).
     */
    Series guess(ByteBuffer view, int index, int end) {
        Entry guess = last == null ? null : last.next;
        if (guess != null && guess.series.definitionIsAt(view, index, end)) {
            last = guess;
            return guess.series;
        }
        return null;
    }

    /**
     * The series whose definition is exactly the bytes {@code [index, index + length)} of {@code view} (a little-endian
     * view of the block), or null.
     */
    Series find(ByteBuffer view, int index, int length) {
        Entry known = byFingerprint.get(Series.fingerprint(view, index, length));
        if (known == null || known.series.definitionBytes() != length || !known.series.definitionIsAt(view, index,
                index + length)) {
            return null;
        }
        follow(known);
        return known.series;
    }

    /** Remembers a series read and checked in full. */
    void add(Series series) {
        Entry entry = byFingerprint.get(series.fingerprint());
        if (entry == null) {
            entry = new Entry(series);
            byFingerprint.put(series.fingerprint(), entry);
        }
        follow(entry);
    }

    /** Records that {@code entry} was read right after the previous definition. */
    private void follow(Entry entry) {
        if (last != null) {
            last.next = entry;
        }
        last = entry;
    }

    /** How many distinct definitions are remembered. */
    public int size() {
        return byFingerprint.size();
    }
}
