package io.sluice.protocol.record;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;

/**
 * An append-only series dictionary: ids 0, 1, 2, ... in order of definition. One per connection direction on
 * the wire, one per segment.
 *
 * <p>Not thread-safe: a dictionary is confined to one channel's event loop (or one writer). Readers on other
 * threads use a {@link SeriesTable} {@link #snapshot()}.
 */
public final class SeriesDictionary {

    private static final int DEFAULT_CAPACITY = 16;

    private Series[] series;
    private int size;
    // Built on first idOf(): decoding never needs it, writing always does.
    private Map<Series, Integer> ids;

    public SeriesDictionary() {
        this(DEFAULT_CAPACITY);
    }

    /** An empty dictionary with room for {@code capacity} series before it grows (a reader that knows the count). */
    public SeriesDictionary(int capacity) {
        series = new Series[Math.max(1, capacity)];
    }

    /** How many series are defined. */
    public int size() {
        return size;
    }

    /** The series with id {@code id}. */
    public Series get(int id) {
        if (id < 0 || id >= size) {
            throw new IndexOutOfBoundsException("series id: " + id + " (expected: 0-" + (size - 1) + ")");
        }
        return series[id];
    }

    /** Defines {@code s} under the next id and returns that id. */
    public int add(Series s) {
        if (size == series.length) {
            // Grow by copying so that arrays already captured by snapshots are never written again.
            series = Arrays.copyOf(series, size * 2);
        }
        series[size] = s;
        if (ids != null) {
            ids.put(s, size);
        }
        return size++;
    }

    /** The id of {@code s}, or -1 if it is not defined. */
    public int idOf(Series s) {
        if (ids == null) {
            // sized for the capacity asked for (or grown to), so that filling it does not rehash
            ids = new HashMap<>(Math.max(16, series.length * 2));
            for (int i = 0; i < size; i++) {
                ids.put(series[i], i);
            }
        }
        Integer id = ids.get(s);
        return id == null ? -1 : id;
    }

    /** A view of the series defined so far that stays valid while this dictionary grows. */
    public SeriesTable snapshot() {
        return size == 0 ? SeriesTable.EMPTY : new SeriesTable(series, size);
    }

    /** Forgets every definition (the dictionary of a new connection starts empty). */
    public void clear() {
        series = new Series[DEFAULT_CAPACITY];
        size = 0;
        ids = null;
    }
}
